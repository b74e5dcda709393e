#include "crawld/api/job_json.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace crawld::jobs;

TEST_CASE("a job renders its parameters, state, times and progress", "[api]") {
  Job job;
  job.id = new_job_id();
  job.params = {"demo", 2024, true, 60, false};
  job.progress.fetched = 3;
  job.created_at = Clock::now();
  auto body = nlohmann::json::parse(crawld::api::job_json(job));
  CHECK(body["id"] == job.id);
  CHECK(body["state"] == "queued");
  CHECK(body["params"]["deep"] == true);
  CHECK(body["params"]["log_to_db"] == false);
  CHECK(body["progress"]["fetched"] == 3);
  CHECK(body["started_at"].is_null());
  CHECK(body["error"].is_null());
}

TEST_CASE("a job's JSON text is exactly what nlohmann::json writes for the same document", "[api]") {
  Job job;
  job.id = new_job_id();
  job.params = {"demo \"quoted\" \\ target", -7, false, 3600, true};
  job.state = JobState::failed;
  job.stop_reason = StopReason::deadline;
  job.created_at = Clock::time_point(std::chrono::milliseconds(1'764'000'000'007));
  job.started_at = job.created_at + std::chrono::milliseconds(1);
  job.finished_at = job.created_at + std::chrono::hours(24 * 400);
  job.progress = {1, 2, 3, 4'000'000'000'000, 5};
  const char* errors[] = {"plain", "tab\tnew\nline\rcr\bbs\fff \x01 \x1f \x7f end", "caf\xc3\xa9 \xe2\x82\xac",
                          "broken \xff\xfe utf-8", ""};
  for (const char* error : errors) {
    job.error = error;
    const std::string text = crawld::api::job_json(job);
    // Parsed and dumped again by nlohmann (compact, invalid UTF-8 replaced,
    // keys sorted): the same bytes.
    CHECK(nlohmann::json::parse(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) == text);
  }
  auto body = nlohmann::json::parse(crawld::api::job_json(job));
  CHECK(body["params"]["target"] == "demo \"quoted\" \\ target");
  CHECK(body["params"]["season"] == -7);
  CHECK(body["season"] == -7);
  CHECK(body["progress"]["bytes"] == 4'000'000'000'000);
  CHECK(body["stop_reason"] == "deadline");
  CHECK(body["error"].is_null());
  CHECK(body["started_at"] == "2025-11-24T16:00:00.008Z");
  CHECK(body["finished_at"] == "2026-12-29T16:00:00.007Z");
  CHECK(body["links"]["pages"] == "/jobs/" + job.id + "/pages");
  CHECK(crawld::api::params_json(job.params) == R"({"deep":false,"log_to_db":true,"season":-7,"target":"demo \"quoted\" \\ target","timeout":3600})");
}

