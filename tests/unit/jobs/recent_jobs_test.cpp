#include "crawld/jobs/recent_jobs.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace crawld::jobs;

namespace {

Job job(const std::string& id, JobState state = JobState::queued) {
  Job j;
  j.id = id;
  j.state = state;
  return j;
}

std::vector<std::string> ids(const RecentJobs& recent) {
  std::vector<std::string> out;
  recent.newest_first([&](const Job& j) {
    out.push_back(j.id);
    return true;
  });
  return out;
}

}  // namespace

TEST_CASE("recent jobs keep every active job and the newest finished ones", "[jobs]") {
  RecentJobs recent(2);
  recent.add(job("a"));
  recent.add(job("b"));
  recent.add(job("c"));
  recent.add(job("d"));
  CHECK(ids(recent) == std::vector<std::string>{"d", "c", "b", "a"});
  // a and c end, then b: a, the oldest finished, is forgotten; d (active) stays.
  recent.set_state(*recent.get("a"), JobState::succeeded);
  recent.finished("a");
  recent.set_state(*recent.get("c"), JobState::failed);
  recent.finished("c");
  recent.set_state(*recent.get("b"), JobState::cancelled);
  recent.finished("b");
  CHECK(ids(recent) == std::vector<std::string>{"d", "c", "b"});
  CHECK(recent.get("a") == nullptr);
  auto counts = recent.counts();
  CHECK(counts[JobState::queued] == 1);
  CHECK(counts[JobState::failed] == 1);
  CHECK(counts[JobState::succeeded] == 0);
  CHECK(counts[JobState::cancelled] == 1);
  // Counted as they go: the same as counting the jobs kept.
  std::map<JobState, std::size_t> recount;
  for (auto state : crawld::jobs::all_job_states) recount[state] = 0;
  recent.newest_first([&](const Job& j) {
    ++recount[j.state];
    return true;
  });
  CHECK(recent.counts() == recount);
  // A job added again under its id replaces the kept one, counts and all.
  auto again = job("d");
  again.state = JobState::running;
  recent.add(again);
  CHECK(ids(recent) == std::vector<std::string>{"d", "c", "b"});
  CHECK(recent.counts()[JobState::queued] == 0);
  CHECK(recent.counts()[JobState::running] == 1);
  recent.forget("d");
  CHECK(recent.counts()[JobState::running] == 0);
}

TEST_CASE("newest_first stops when asked", "[jobs]") {
  RecentJobs recent(10);
  for (auto id : {"a", "b", "c"}) recent.add(job(id));
  std::vector<std::string> seen;
  recent.newest_first([&](const Job& j) {
    seen.push_back(j.id);
    return seen.size() < 2;
  });
  CHECK(seen == std::vector<std::string>{"c", "b"});
}
