// The HTTP API: registers every endpoint on the router.
//
// Handlers are thin: parse the request (start_params, request_params), call
// JobService (or the store for pages and events), render JSON (job_json).
// Errors are thrown (http::ApiError, util::Unavailable) and turned into
// problem+json in one place, the server's dispatch.
#pragma once

#include "crawld/config.hpp"
#include "crawld/http/router.hpp"

#include <chrono>
#include <functional>
#include <string_view>

namespace crawld::jobs {
class JobService;
}
namespace crawld::cluster {
class Coordinator;
}
namespace crawld::store {
class Store;
}
namespace crawld::webhooks {
class Outbox;
}
namespace crawld::metrics {
class LoopLagMonitor;
class Metrics;
struct Snapshot;
}

namespace crawld::api {

class EventStreams;

struct ApiContext {
  const Config* config = nullptr;
  jobs::JobService* jobs = nullptr;
  const metrics::LoopLagMonitor* loop_lag = nullptr;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  std::function<bool()> draining;  // true while shutting down
  metrics::Metrics* metrics = nullptr;
  std::function<metrics::Snapshot()> snapshot;  // gauges sampled at scrape time
  store::Store* store = nullptr;  // null when no database is configured
  cluster::Coordinator* cluster = nullptr;  // null unless cluster.enabled
  EventStreams* streams = nullptr;          // live streams (event_streams.hpp)
  webhooks::Outbox* outbox = nullptr;       // webhook deliveries (database or memory)
};

// The status page, compiled into the binary (src/api/status_page.html).
extern const std::string_view status_page_html;

// Every route; the three below are its parts.
void register_routes(http::Router& router, ApiContext& context);
// POST /start, GET /jobs, GET /jobs/{id}, cancel (job_routes.cpp).
void register_job_routes(http::Router& router, ApiContext& context);
// GET /jobs/{id}/pages and /events (database_routes.cpp).
void register_database_routes(http::Router& router, ApiContext& context);
// GET /events (event_streams.cpp).
void register_stream_routes(http::Router& router, ApiContext& context);
// GET /webhooks/deliveries (webhook_routes.cpp).
void register_webhook_routes(http::Router& router, ApiContext& context);

}  // namespace crawld::api
