// When a fetch is worth another try, and how long to wait first.
//
// Transient failures are those a server or network gets over: connection
// refused or reset, timeouts, a name server asking to try again, and the
// answers 429, 502, 503 and 504. They are retried (crawl.max_retries) after
// an exponential backoff with full jitter, or after what Retry-After asks
// on 429 and 503 (crawl.max_retry_after_s at most). Pure logic.
#pragma once

#include "crawld/crawl/fetcher.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace crawld::crawl {

bool transient_failure(const FetchResponse& response);

// A Retry-After header's delay from `now`: delay-seconds ("120") or an
// HTTP-date (IMF-fixdate, RFC 850 or asctime form; a date past is 0).
// Nullopt when it is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// Full jitter (uniform in [0, min(cap, base * 2^attempt)]), attempt from 0.
std::chrono::milliseconds backoff(std::uint32_t attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                  std::mt19937_64& random);

// The calling thread's generator for backoff jitter, seeded once per thread
// (seeding from std::random_device costs microseconds: not once per crawl).
std::mt19937_64& jitter_random();

}  // namespace crawld::crawl
