#include "crawld/jobs/admission.hpp"

#include <catch2/catch.hpp>

using namespace crawld::jobs;
using Kind = Admission::Verdict::Kind;
using crawld::JobsConfig;

namespace {

JobParams params(std::int64_t season, bool deep = false) {
  JobParams p;
  p.target = "demo";
  p.season = season;
  p.deep = deep;
  return p;
}

const auto now = Admission::Steady::now();

}  // namespace

TEST_CASE("the duplicate policy is read from its name", "[jobs]") {
  CHECK(parse_duplicate_policy("reject") == DuplicatePolicy::reject);
  CHECK(parse_duplicate_policy("queue") == DuplicatePolicy::queue);
  CHECK(parse_duplicate_policy("allow") == DuplicatePolicy::allow);
  CHECK_FALSE(parse_duplicate_policy("Reject").has_value());
  JobsConfig config;
  config.on_duplicate = "sometimes";
  CHECK_THROWS_AS(Admission(config), std::invalid_argument);
}

TEST_CASE("queued jobs start in FIFO order within max_running", "[jobs]") {
  JobsConfig config;
  config.max_running = 2;
  config.on_duplicate = "allow";
  Admission admission(config);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(admission.check(params(2000 + i), {}, 0, now).kind == Kind::admit);
    admission.accept("job-" + std::to_string(i), params(2000 + i), {}, now);
  }
  CHECK(admission.next(0) == "job-0");
  CHECK(admission.next(1) == "job-1");
  CHECK_FALSE(admission.next(2).has_value());  // two run: the limit
  admission.ended("job-0");
  CHECK(admission.next(1) == "job-2");
  CHECK(admission.queued() == 1);
  CHECK(admission.take_queue() == std::vector<std::string>{"job-3"});
  CHECK(admission.queued() == 0);
}

TEST_CASE("reject names the oldest active job of the same crawl", "[jobs]") {
  Admission admission(JobsConfig{});
  admission.accept("first", params(2024), {}, now);
  auto verdict = admission.check(params(2024), {}, 0, now);
  CHECK(verdict.kind == Kind::duplicate);
  CHECK(verdict.job_id == "first");
  CHECK(admission.check(params(2024, true), {}, 0, now).kind == Kind::admit);  // deep: another crawl
  admission.ended("first");
  CHECK(admission.check(params(2024), {}, 0, now).kind == Kind::admit);
}

TEST_CASE("queue holds a duplicate back until the running one ends", "[jobs]") {
  JobsConfig config;
  config.on_duplicate = "queue";
  Admission admission(config);
  admission.accept("a", params(2024), {}, now);
  admission.accept("b", params(2024), {}, now);
  admission.accept("c", params(2025), {}, now);
  CHECK(admission.next(0) == "a");
  CHECK(admission.next(1) == "c");  // b waits for a; c is another crawl
  CHECK_FALSE(admission.next(2).has_value());
  admission.ended("a");
  CHECK(admission.next(1) == "b");
}

TEST_CASE("a full queue refuses what cannot start at once", "[jobs]") {
  JobsConfig config;
  config.max_running = 1;
  config.max_queued = 1;
  config.on_duplicate = "allow";
  Admission admission(config);
  CHECK(admission.check(params(1), {}, 0, now).kind == Kind::admit);
  admission.accept("running", params(1), {}, now);
  admission.next(0);
  CHECK(admission.check(params(2), {}, 1, now).kind == Kind::admit);
  admission.accept("queued", params(2), {}, now);
  CHECK(admission.check(params(3), {}, 1, now).kind == Kind::queue_full);
  admission.remove_queued("queued");
  admission.ended("queued");
  CHECK(admission.check(params(3), {}, 1, now).kind == Kind::admit);
}

TEST_CASE("an Idempotency-Key replays its job until it expires", "[jobs]") {
  JobsConfig config;
  config.idempotency_ttl_s = 60;
  config.on_duplicate = "allow";
  Admission admission(config);
  admission.accept("original", params(2024), "key", now);
  auto replay = admission.check(params(2024), "key", 0, now);
  CHECK(replay.kind == Kind::replay);
  CHECK(replay.job_id == "original");
  CHECK(admission.check(params(2025), "key", 0, now).kind == Kind::idempotency_mismatch);
  CHECK(admission.check(params(2024), "key", 0, now + std::chrono::seconds(61)).kind == Kind::admit);
}
