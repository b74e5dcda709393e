#include "crawld/crawl/retry.hpp"

#include <algorithm>
#include <ctime>
#include <string>

namespace crawld::crawl {

bool transient_failure(const FetchResponse& response) {
  if (!response.error.empty()) return response.transient;
  return response.status == 429 || response.status == 502 || response.status == 503 || response.status == 504;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // Anything past a day is as good as "never" for a crawl: cap, not overflow.
    if (value.size() > 9) return std::chrono::seconds(999'999'999);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  // RFC 9110 5.6.7: IMF-fixdate, then the obsolete RFC 850 and asctime forms.
  const std::string text(value);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    // Rounded up: the date names a whole second, and a wait cut down to the
    // second below would ask again before it (0 s when read 0.99 s early).
    return std::max(std::chrono::seconds(0), std::chrono::ceil<std::chrono::seconds>(when - now));
  }
  return std::nullopt;
}

std::mt19937_64& jitter_random() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return random;
}

std::chrono::milliseconds backoff(std::uint32_t attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                  std::mt19937_64& random) {
  auto ceiling = base;
  for (std::uint32_t i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling.count(), 0));
  return std::chrono::milliseconds(pick(random));
}

}  // namespace crawld::crawl
