#include "crawld/jobs/recent_jobs.hpp"

#include <catch2/catch.hpp>

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
  recent.get("a")->state = JobState::succeeded;
  recent.finished("a");
  recent.get("c")->state = JobState::failed;
  recent.finished("c");
  recent.get("b")->state = JobState::cancelled;
  recent.finished("b");
  CHECK(ids(recent) == std::vector<std::string>{"d", "c", "b"});
  CHECK(recent.get("a") == nullptr);
  auto counts = recent.counts();
  CHECK(counts[JobState::queued] == 1);
  CHECK(counts[JobState::failed] == 1);
  CHECK(counts[JobState::succeeded] == 0);
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
