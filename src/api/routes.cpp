#include "crawld/api/routes.hpp"

#include "crawld/api/database_routes.hpp"
#include "crawld/api/job_json.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/cluster/coordinator.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/metrics/loop_lag.hpp"
#include "crawld/metrics/metrics.hpp"
#include "crawld/util/unavailable.hpp"
#include "crawld/version.hpp"

#include <nlohmann/json.hpp>

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::json_response;
using http::Response;
using nlohmann::json;

namespace {

// GET /status: the service summary for dashboards.
json status_body(const ApiContext& ctx) {
  const auto& jobs = *ctx.jobs;
  json counts = json::object();
  for (const auto& [state, count] : jobs.counts()) counts[std::string(jobs::to_string(state))] = count;
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started_at).count();
  json body = {
      {"service", "crawld"},
      {"version", std::string(version)},
      {"state", ctx.draining && ctx.draining() ? "draining" : "running"},
      {"uptime_s", static_cast<std::int64_t>(uptime)},
      {"jobs", std::move(counts)},
      {"queue_length", jobs.queued()},
      {"limits",
       {{"max_running", jobs.config().max_running},
        {"max_queued", jobs.config().max_queued},
        {"max_timeout_s", jobs.config().max_timeout_s}}},
  };
  body["database"] = database_status_json(ctx);
  if (ctx.loop_lag != nullptr) {
    body["loop_lag_ms"] = {{"last", ctx.loop_lag->last_seconds() * 1000},
                           {"max_1m", ctx.loop_lag->max_recent_seconds() * 1000},
                           {"p99_1m", ctx.loop_lag->p99_recent_seconds() * 1000}};
  }
  return body;
}

// Cluster mode: the live instances and the cluster-wide queue. Without the
// database, what this instance knows and why the rest is missing.
asio::awaitable<json> cluster_status_json(cluster::Coordinator& cluster) {
  json out = {{"held", cluster.held()}};
  try {
    auto status = co_await cluster.status();
    json instances = json::array();
    for (const auto& i : status.instances) {
      instances.push_back({{"id", i.id},
                           {"version", i.version},
                           {"started_at", jobs::format_time(i.started_at)},
                           {"last_heartbeat", jobs::format_time(i.heartbeat_at)},
                           {"running", i.running},
                           {"slots", i.slots},
                           {"stopping", i.stopping}});
    }
    out["instances"] = std::move(instances);
    out["jobs"] = {{"queued", status.counts.queued}, {"running", status.counts.running}};
  } catch (const util::Unavailable& error) {
    out["unavailable"] = error.what();
  }
  co_return out;
}

// A fixed answer (documents that depend only on the configuration): the
// body is shared by every answer, not copied per request.
http::Handler constant(Response response) {
  if (!response.fixed_body) response.fixed_body = std::make_shared<const std::string>(std::move(response.body));
  response.body.clear();
  return [response = std::move(response)](Request&) -> asio::awaitable<Response> { co_return response; };
}

void register_service_routes(http::Router& router, ApiContext* ctx) {
  router.add("GET", "/status", [ctx](Request&) -> asio::awaitable<Response> {
    json body = status_body(*ctx);
    if (ctx->cluster != nullptr) body["cluster"] = co_await cluster_status_json(*ctx->cluster);
    co_return json_response(200, body, "running", job_list_json(ctx->jobs->running_jobs()));
  });
  router.add("GET", "/metrics", [ctx](Request&) -> asio::awaitable<Response> {
    if (ctx->metrics == nullptr || !ctx->snapshot) throw http::service_unavailable("metrics are not enabled");
    Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = ctx->metrics->render(ctx->snapshot());
    co_return response;
  });
  router.add("GET", "/healthz", constant(json_response(200, {{"status", "ok"}})));
  router.add("GET", "/readyz", [ctx](Request&) -> asio::awaitable<Response> {
    if (ctx->draining && ctx->draining()) throw http::service_unavailable("draining: the service is stopping");
    require_database_ready(*ctx);
    co_return json_response(200, {{"status", "ready"}});
  });
}

}  // namespace

void register_routes(http::Router& router, ApiContext& context) {
  Response docs;
  docs.body = start_docs(*context.config).dump(2);
  router.add("GET", "/start", constant(std::move(docs)));
  register_job_routes(router, context);
  register_database_routes(router, context);
  register_service_routes(router, &context);

  Response page;
  page.content_type = "text/html; charset=utf-8";
  page.body = std::string(status_page_html);
  page.header("Cache-Control", "no-cache");
  router.add("GET", "/", constant(std::move(page)));
}

}  // namespace crawld::api
