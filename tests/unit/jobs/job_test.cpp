#include "crawld/jobs/job.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace crawld::jobs;

TEST_CASE("job states: names round-trip and transitions follow the state machine", "[jobs]") {
  for (auto state : all_job_states) CHECK(parse_job_state(to_string(state)) == state);
  CHECK_FALSE(parse_job_state("done").has_value());
  CHECK(is_allowed_transition(JobState::queued, JobState::running));
  CHECK(is_allowed_transition(JobState::queued, JobState::cancelled));
  CHECK(is_allowed_transition(JobState::queued, JobState::interrupted));
  CHECK_FALSE(is_allowed_transition(JobState::queued, JobState::succeeded));
  CHECK(is_allowed_transition(JobState::running, JobState::timed_out));
  CHECK_FALSE(is_allowed_transition(JobState::running, JobState::queued));
  for (auto from : all_job_states) {
    if (!is_terminal(from)) continue;
    for (auto to : all_job_states) CHECK_FALSE(is_allowed_transition(from, to));
  }
}

TEST_CASE("job ids are distinct UUIDs", "[jobs]") {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    auto id = new_job_id();
    CHECK(is_valid_job_id(id));
    ids.insert(id);
  }
  CHECK(ids.size() == 100);
  CHECK_FALSE(is_valid_job_id("not-a-uuid"));
  CHECK_FALSE(is_valid_job_id("0000000000000000000000000000000000000"));
  CHECK_FALSE(is_valid_job_id("g0000000-0000-4000-8000-000000000000"));
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds", "[jobs]") {
  auto when = Clock::time_point(std::chrono::milliseconds(1'764'000'000'123));
  CHECK(format_time(when) == "2025-11-24T16:00:00.123Z");
  CHECK(parse_time(format_time(when)) == when);
  CHECK_FALSE(parse_time("yesterday").has_value());
}

TEST_CASE("a job renders its parameters, state, times and progress", "[jobs]") {
  Job job;
  job.id = new_job_id();
  job.params = {"demo", 2024, true, 60, false};
  job.progress.fetched = 3;
  job.created_at = Clock::now();
  auto body = job.to_json();
  CHECK(body["id"] == job.id);
  CHECK(body["state"] == "queued");
  CHECK(body["params"]["deep"] == true);
  CHECK(body["params"]["log_to_db"] == false);
  CHECK(body["progress"]["fetched"] == 3);
  CHECK(body["started_at"].is_null());
  CHECK(body["error"].is_null());
}
