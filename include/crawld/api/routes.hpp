// The HTTP API: registers every endpoint on the router.
//
// Handlers are thin: parse the request, call the logic (start_params,
// JobManager, Store), render JSON. Errors are thrown as http::ApiError.
#pragma once

#include "crawld/config.hpp"
#include "crawld/http/router.hpp"

#include <chrono>
#include <functional>
#include <string_view>

namespace crawld::jobs {
class JobManager;
}
namespace crawld::store {
class Store;
}
namespace crawld::metrics {
class LoopLagMonitor;
class Metrics;
struct Snapshot;
}

namespace crawld::api {

struct ApiContext {
  const Config* config = nullptr;
  jobs::JobManager* jobs = nullptr;  // null until the jobs layer is wired
  const metrics::LoopLagMonitor* loop_lag = nullptr;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  std::function<bool()> draining;  // true while shutting down
  metrics::Metrics* metrics = nullptr;
  std::function<metrics::Snapshot()> snapshot;  // gauges sampled at scrape time
  store::Store* store = nullptr;  // null when no database is configured
};

// The status page, compiled into the binary (src/api/status_page.html).
extern const std::string_view status_page_html;

void register_routes(http::Router& router, ApiContext& context);

}  // namespace crawld::api
