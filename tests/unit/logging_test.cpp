#include "crawld/logging.hpp"
#include "crawld/util/json_text.hpp"

#include <catch2/catch.hpp>

using crawld::job_id_of;

namespace {
std::string json_escape(std::string_view text) {
  std::string out;
  crawld::util::append_json_escaped(out, text);
  return out;
}
}  // namespace

TEST_CASE("job ids are lifted from lines about a job", "[logging]") {
  const std::string id = "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e";
  CHECK(job_id_of("job " + id + ": crawl started") == id);
  CHECK(job_id_of("job " + id + " was running when this instance last stopped") == id);
  CHECK(job_id_of("job " + id) == id);
  CHECK(job_id_of("job " + id + "x: not an id boundary").empty());
  CHECK(job_id_of("listening on 127.0.0.1:8080").empty());
  CHECK(job_id_of("job not-a-uuid-at-all-but-36-characters!!: x").empty());
  CHECK(job_id_of("jobs " + id).empty());
  CHECK(job_id_of("access 127.0.0.1 GET /jobs/" + id + " 200 573 0.059ms") == id);
  CHECK(job_id_of("access 127.0.0.1 POST /jobs/" + id + "/cancel 202 1 0.1ms") == id);
  CHECK(job_id_of("access 127.0.0.1 GET /jobs/not-a-job 400 1 0.1ms").empty());
  CHECK(job_id_of("").empty());
}

TEST_CASE("JSON escaping keeps log lines one valid JSON object", "[logging]") {
  CHECK(json_escape("plain") == "plain");
  CHECK(json_escape("quote \" backslash \\") == "quote \\\" backslash \\\\");
  CHECK(json_escape("line\nbreak\ttab") == "line\\nbreak\\ttab");
  CHECK(json_escape(std::string("nul\0byte", 8)) == "nul\\u0000byte");
  CHECK(json_escape("\x1b[31m") == "\\u001b[31m");
  // Invalid UTF-8 becomes U+FFFD: the line stays valid JSON.
  CHECK(json_escape("bad \xff byte") == "bad \xef\xbf\xbd byte");
  CHECK(json_escape("caf\xc3\xa9") == "caf\xc3\xa9");
}
