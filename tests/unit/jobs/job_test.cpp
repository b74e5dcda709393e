#include "crawld/jobs/job.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

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

TEST_CASE("job ids are distinct version-4 UUIDs", "[jobs]") {
  // More ids than one read of random bytes covers (256), so a refill is crossed.
  std::set<std::string> ids;
  std::set<char> variants;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_job_id();
    REQUIRE(is_valid_job_id(id));
    CHECK(std::none_of(id.begin(), id.end(), [](unsigned char c) { return std::isupper(c); }));
    CHECK(id[14] == '4');
    variants.insert(id[19]);
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
  CHECK(std::all_of(variants.begin(), variants.end(),
                    [](char c) { return std::string_view("89ab").find(c) != std::string_view::npos; }));
  CHECK(variants.size() > 1);
  CHECK_FALSE(is_valid_job_id("not-a-uuid"));
  CHECK_FALSE(is_valid_job_id("0000000000000000000000000000000000000"));
  CHECK_FALSE(is_valid_job_id("g0000000-0000-4000-8000-000000000000"));
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds", "[jobs]") {
  auto when = Clock::time_point(std::chrono::milliseconds(1'764'000'000'123));
  CHECK(format_time(when) == "2025-11-24T16:00:00.123Z");
}

TEST_CASE("timestamps render every field with its leading zeros", "[jobs]") {
  using namespace std::chrono;
  auto when = sys_days{year{2001} / 2 / 3} + hours(4) + minutes(5) + seconds(6) + milliseconds(7);
  CHECK(format_time(time_point_cast<Clock::duration>(when)) == "2001-02-03T04:05:06.007Z");
  CHECK(format_time(Clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  auto leap = sys_days{year{2024} / 2 / 29} + hours(23) + minutes(59) + seconds(59) + milliseconds(999);
  CHECK(format_time(time_point_cast<Clock::duration>(leap)) == "2024-02-29T23:59:59.999Z");
}
