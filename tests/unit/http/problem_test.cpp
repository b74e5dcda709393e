#include "crawld/http/problem.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace crawld::http;
using nlohmann::json;

namespace {

std::string header_of(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "(absent)";
}

}  // namespace

TEST_CASE("a problem is rendered as RFC 9457 problem+json", "[problem]") {
  Response response = problem_response(not_found("no resource at /nope"), "/nope");
  CHECK(response.status == 404);
  CHECK(response.content_type == "application/problem+json");
  CHECK(response.headers.empty());
  json body = json::parse(response.body);
  CHECK(body == json{{"type", "/problems/not-found"},
                     {"title", "Not Found"},
                     {"status", 404},
                     {"detail", "no resource at /nope"},
                     {"instance", "/nope"}});
}

TEST_CASE("each helper sets status, type and title", "[problem]") {
  struct Case {
    ApiError error;
    int status;
    const char* type;
    const char* title;
  };
  std::vector<Case> cases = {
      {bad_request("d"), 400, "/problems/bad-request", "Bad Request"},
      {not_found("d"), 404, "/problems/not-found", "Not Found"},
      {conflict("d"), 409, "/problems/conflict", "Conflict"},
      {payload_too_large("d"), 413, "/problems/payload-too-large", "Content Too Large"},
      {unsupported_media_type("d"), 415, "/problems/unsupported-media-type", "Unsupported Media Type"},
      {header_fields_too_large("d"), 431, "/problems/header-fields-too-large", "Request Header Fields Too Large"},
      {service_unavailable("d"), 503, "/problems/service-unavailable", "Service Unavailable"},
      {internal_error("d"), 500, "/problems/internal-error", "Internal Server Error"},
  };
  for (const auto& c : cases) {
    INFO(c.type);
    Response response = problem_response(c.error, "/x");
    CHECK(response.status == c.status);
    CHECK(response.content_type == "application/problem+json");
    json body = json::parse(response.body);
    CHECK(body["status"] == c.status);
    CHECK(body["type"] == c.type);
    CHECK(body["title"] == c.title);
    CHECK(body["detail"] == "d");
    CHECK_FALSE(body.contains("errors"));
  }
}

TEST_CASE("validation errors list every field", "[problem]") {
  Response response = problem_response(
      validation_failed({{"deep", "expected boolean"}, {"season", "expected integer 1900-2100"}}), "/start");
  CHECK(response.status == 422);
  json body = json::parse(response.body);
  CHECK(body["type"] == "/problems/validation-error");
  CHECK(body["title"] == "Invalid parameters");
  CHECK(body["detail"] == "invalid parameters: deep (expected boolean); season (expected integer 1900-2100)");
  CHECK(body["errors"] == json::array({{{"field", "deep"}, {"message", "expected boolean"}},
                                       {{"field", "season"}, {"message", "expected integer 1900-2100"}}}));
}

TEST_CASE("validation_failed with no errors still renders", "[problem]") {
  Response response = problem_response(validation_failed({}), "/start");
  json body = json::parse(response.body);
  CHECK(body["status"] == 422);
  CHECK_FALSE(body.contains("errors"));
}

TEST_CASE("extra headers travel with the problem", "[problem]") {
  SECTION("Retry-After") {
    Response response = problem_response(too_many_requests("queue full", 30), "/start");
    CHECK(response.status == 429);
    CHECK(header_of(response, "Retry-After") == "30");
    CHECK(json::parse(response.body)["type"] == "/problems/too-many-requests");
  }
  SECTION("Allow") {
    Response response = problem_response(method_not_allowed({"GET", "HEAD", "POST"}), "/start");
    CHECK(response.status == 405);
    CHECK(header_of(response, "Allow") == "GET, HEAD, POST");
    CHECK(json::parse(response.body)["detail"] == "allowed methods: GET, HEAD, POST");
  }
  SECTION("WWW-Authenticate") {
    Response response = problem_response(unauthorized("missing token"), "/jobs");
    CHECK(response.status == 401);
    CHECK(header_of(response, "WWW-Authenticate") == "Bearer realm=\"crawld\"");
  }
  SECTION("custom header") {
    ApiError error = conflict("already running");
    error.with_header("Location", "/jobs/1");
    CHECK(header_of(problem_response(error, "/start"), "Location") == "/jobs/1");
  }
}

TEST_CASE("extra members are added to the problem object", "[problem]") {
  ApiError error = conflict("the same crawl is already running");
  error.with_member("job", json{{"id", "j1"}, {"state", "running"}});
  json body = json::parse(problem_response(error, "/start").body);
  CHECK(body["job"] == json{{"id", "j1"}, {"state", "running"}});
  CHECK(body["status"] == 409);
}

TEST_CASE("a custom status renders like the helpers", "[problem]") {
  ApiError error(501, "not-implemented", "Not Implemented", "later");
  Response response = problem_response(error, "/start");
  CHECK(response.status == 501);
  CHECK(json::parse(response.body) == json{{"type", "/problems/not-implemented"},
                                           {"title", "Not Implemented"},
                                           {"status", 501},
                                           {"detail", "later"},
                                           {"instance", "/start"}});
  CHECK(std::string(error.what()) == "later");
}

TEST_CASE("text that is not UTF-8 still gives valid JSON", "[problem]") {
  // Paths and values come from clients and can hold any bytes.
  Response response = problem_response(not_found("no resource at /\xff\xfe"), "/\xff\xfe");
  json body;
  REQUIRE_NOTHROW(body = json::parse(response.body));
  CHECK(body["status"] == 404);
  CHECK(body["instance"].get<std::string>().size() > 1);
}

TEST_CASE("a member given as JSON text takes its sorted place, as if it had been in the document", "[http]") {
  const nlohmann::json body = {{"count", 2}, {"name", "bad \xff byte"}, {"zeta", nullptr}};
  const std::string list = R"([{"a":1},{"b":"x"}])";
  for (const std::string key : {"a", "jobs", "running", "zz", "count"}) {
    INFO(key);
    auto expected = body;
    expected[key] = nlohmann::json::parse(list);
    auto response = json_response(200, body, key, list);
    CHECK(response.status == 200);
    CHECK(response.body == expected.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  CHECK(json_response(201, nlohmann::json::object(), "jobs", "[]").body == R"({"jobs":[]})");
}
