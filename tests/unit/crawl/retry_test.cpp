#include "crawld/crawl/retry.hpp"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using namespace crawld::crawl;
using namespace std::chrono_literals;

TEST_CASE("transient failures: refused, reset, timeouts, 429, 502, 503, 504", "[crawl][retry]") {
  FetchResponse answer;
  for (int status : {429, 502, 503, 504}) {
    answer.status = status;
    CHECK(transient_failure(answer));
  }
  for (int status : {200, 301, 400, 404, 500, 501}) {
    answer.status = status;
    CHECK_FALSE(transient_failure(answer));
  }
  FetchResponse failed;
  failed.error = "connect: Connection refused";
  failed.transient = true;
  CHECK(transient_failure(failed));
  failed.transient = false;
  failed.error = "address refused: ...";
  CHECK_FALSE(transient_failure(failed));
}

TEST_CASE("Retry-After: delay-seconds or an HTTP-date in any of its three forms", "[crawl][retry]") {
  // Sun, 06 Nov 1994 08:49:37 GMT, the RFC's own example.
  const auto now = std::chrono::system_clock::from_time_t(784111777);
  CHECK(parse_retry_after("120", now) == 120s);
  CHECK(parse_retry_after(" 0 ", now) == 0s);
  CHECK(parse_retry_after("99999999999999", now) == std::chrono::seconds(999'999'999));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now) == 60s);
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now) == 10s);
  CHECK(parse_retry_after("Sun Nov  6 08:49:39 1994", now) == 2s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == 0s);  // past: now
  // A date read part-way through a second: the wait is rounded up, never down to 0.
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", now + 990ms) == 1s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", now + 1s) == 0s);
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("1.5", now));
  CHECK_FALSE(parse_retry_after("tomorrow", now));
  CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT trailing", now));
}

TEST_CASE("backoff is full jitter under an exponential ceiling", "[crawl][retry]") {
  std::mt19937_64 random(42);
  for (std::uint32_t attempt = 0; attempt < 12; ++attempt) {
    const auto ceiling = std::min(100ms * (1 << attempt), std::chrono::milliseconds(60'000));
    std::chrono::milliseconds most{0};
    for (int i = 0; i < 200; ++i) {
      const auto wait = backoff(attempt, 100ms, 60'000ms, random);
      CHECK(wait >= 0ms);
      CHECK(wait <= ceiling);
      most = std::max(most, wait);
    }
    CHECK(most > ceiling / 2);  // spread over the range, not stuck at its bottom
  }
  CHECK(backoff(1000, 100ms, 60'000ms, random) <= 60'000ms);  // no overflow
}

TEST_CASE("jitter comes from one generator per thread, seeded differently on each", "[crawl][retry]") {
  auto& mine = jitter_random();
  CHECK(&jitter_random() == &mine);  // seeded once, not per call
  std::mt19937_64* theirs = nullptr;
  std::vector<std::uint64_t> their_draws;
  std::thread other([&] {
    theirs = &jitter_random();
    for (int i = 0; i < 4; ++i) their_draws.push_back((*theirs)());
  });
  other.join();
  CHECK(theirs != &mine);
  std::vector<std::uint64_t> my_draws;
  for (int i = 0; i < 4; ++i) my_draws.push_back(mine());
  CHECK(my_draws != their_draws);  // two threads' crawls do not back off in step
}
