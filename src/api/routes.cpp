#include "crawld/api/routes.hpp"

#include "crawld/api/database_routes.hpp"
#include "crawld/api/job_json.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/metrics/loop_lag.hpp"
#include "crawld/metrics/metrics.hpp"
#include "crawld/version.hpp"

#include <nlohmann/json.hpp>

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::json_response;
using http::Response;
using nlohmann::json;

void register_routes(http::Router& router, ApiContext& context) {
  ApiContext* ctx = &context;

  // The docs document depends only on the configuration: render it once.
  auto docs = std::make_shared<std::string>(start_docs(*context.config).dump(2));
  router.add("GET", "/start", [docs](Request&) -> asio::awaitable<Response> {
    Response response;
    response.body = *docs;
    co_return response;
  });

  register_job_routes(router, context);
  register_database_routes(router, context);

  router.add("GET", "/status", [ctx](Request&) -> asio::awaitable<Response> {
    auto& jobs = *ctx->jobs;
    json counts = json::object();
    for (const auto& [state, count] : jobs.counts()) counts[std::string(jobs::to_string(state))] = count;
    auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx->started_at).count();
    json body = {
        {"service", "crawld"},
        {"version", std::string(version)},
        {"state", ctx->draining && ctx->draining() ? "draining" : "running"},
        {"uptime_s", static_cast<std::int64_t>(uptime)},
        {"jobs", std::move(counts)},
        {"queue_length", jobs.queued()},
        {"limits",
         {{"max_running", jobs.config().max_running},
          {"max_queued", jobs.config().max_queued},
          {"max_timeout_s", jobs.config().max_timeout_s}}},
    };
    body["database"] = database_status_json(*ctx);
    if (ctx->loop_lag != nullptr) {
      body["loop_lag_ms"] = {{"last", ctx->loop_lag->last_seconds() * 1000},
                             {"max_1m", ctx->loop_lag->max_recent_seconds() * 1000},
                             {"p99_1m", ctx->loop_lag->p99_recent_seconds() * 1000}};
    }
    co_return json_response(200, body, "running", job_list_json(jobs.running_jobs()));
  });

  router.add("GET", "/", [](Request&) -> asio::awaitable<Response> {
    Response response;
    response.content_type = "text/html; charset=utf-8";
    response.body = std::string(status_page_html);
    response.header("Cache-Control", "no-cache");
    co_return response;
  });

  router.add("GET", "/metrics", [ctx](Request&) -> asio::awaitable<Response> {
    if (ctx->metrics == nullptr || !ctx->snapshot) throw http::service_unavailable("metrics are not enabled");
    Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = ctx->metrics->render(ctx->snapshot());
    co_return response;
  });

  router.add("GET", "/healthz", [](Request&) -> asio::awaitable<Response> {
    co_return json_response(200, {{"status", "ok"}});
  });

  router.add("GET", "/readyz", [ctx](Request&) -> asio::awaitable<Response> {
    if (ctx->draining && ctx->draining()) throw http::service_unavailable("draining: the service is stopping");
    require_database_ready(*ctx);
    co_return json_response(200, {{"status", "ready"}});
  });
}

}  // namespace crawld::api
