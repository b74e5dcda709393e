// libFuzzer: POST /start bodies (JSON and form) fail only with http::ApiError,
// and anything accepted is within the documented bounds.
#include "crawld/api/start_params.hpp"
#include "crawld/http/problem.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const crawld::Config config = [] {
    crawld::Config c;
    c.crawl.targets.push_back({"league", {"http://127.0.0.1/{season}"}, {}, 0, 3, 100});
    c.crawl.targets.push_back({"cup", {"http://127.0.0.1/cup/{season}"}, {}, 0, 3, 100});
    return c;
  }();
  if (size == 0) return 0;
  static const char* types[] = {"application/json", "application/x-www-form-urlencoded", "", "text/plain"};
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    auto params = crawld::api::parse_start_params(types[data[0] % 4], body, config);
    if (params.season < config.crawl.min_season || params.season > config.crawl.max_season) std::abort();
    if (params.timeout_s < 1 || params.timeout_s > config.jobs.max_timeout_s) std::abort();
    if (!config.crawl.find_target(params.target)) std::abort();
  } catch (const crawld::http::ApiError& e) {
    if (e.status() < 400 || e.status() >= 500) std::abort();
    crawld::http::problem_response(e, "/start");
  }
  return 0;
}
