#include "crawld/api/routes.hpp"

#include "crawld/api/database_routes.hpp"
#include "crawld/api/job_json.hpp"
#include "crawld/api/openapi.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/cluster/coordinator.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/metrics/loop_lag.hpp"
#include "crawld/metrics/metrics.hpp"
#include "crawld/util/unavailable.hpp"
#include "crawld/util/json_text.hpp"
#include "crawld/version.hpp"

#include <nlohmann/json.hpp>

#include <utility>

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::json_response;
using http::Response;
using nlohmann::json;

namespace {

// GET /status: the service summary for dashboards, written member by
// member (keys in sorted order, as nlohmann writes an object): it is what
// dashboards poll, so it costs no document tree per request. `cluster` is
// the cluster's part (cluster mode), already rendered.
std::string status_text(const ApiContext& ctx, const json* cluster) {
  using util::append_key;
  using util::append_member;
  using util::append_string_member;
  const auto& jobs = *ctx.jobs;
  auto running = jobs.running_jobs();
  std::string out;
  out.reserve(512 + running.size() * 1024);
  out += '{';
  if (cluster != nullptr) {
    append_key(out, "cluster");
    out += cluster->dump(-1, ' ', false, json::error_handler_t::replace);
    out += ',';
  }
  append_key(out, "database");
  out += database_status_json(ctx).dump(-1, ' ', false, json::error_handler_t::replace);
  out += ',';
  append_key(out, "jobs");
  out += '{';
  std::map<std::string_view, std::size_t> counts;  // by name, as the keys are sorted
  for (const auto& [state, count] : jobs.counts()) counts[jobs::to_string(state)] = count;
  for (const auto& [name, count] : counts) append_member(out, name, count);
  util::close_object(out);
  out += ',';
  append_key(out, "limits");
  out += '{';
  append_member(out, "max_queued", jobs.config().max_queued);
  append_member(out, "max_running", jobs.config().max_running);
  append_member(out, "max_timeout_s", jobs.config().max_timeout_s);
  util::close_object(out);
  out += ',';
  if (ctx.loop_lag != nullptr) {
    append_key(out, "loop_lag_ms");
    out += '{';
    // Doubles as nlohmann writes them (its notation and digits).
    for (auto [key, seconds] : {std::pair{"last", ctx.loop_lag->last_seconds()},
                                std::pair{"max_1m", ctx.loop_lag->max_recent_seconds()},
                                std::pair{"p99_1m", ctx.loop_lag->p99_recent_seconds()}}) {
      append_key(out, key);
      out += json(seconds * 1000).dump();
      out += ',';
    }
    util::close_object(out);
    out += ',';
  }
  append_member(out, "queue_length", jobs.queued());
  append_key(out, "running");
  out += '[';
  for (const auto& job : running) {
    append_job_json(out, job);
    out += ',';
  }
  if (out.back() == ',') out.pop_back();
  out += "],";
  append_string_member(out, "service", "crawld");
  append_string_member(out, "state", ctx.draining && ctx.draining() ? "draining" : "running");
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started_at).count();
  append_member(out, "uptime_s", static_cast<std::int64_t>(uptime));
  append_string_member(out, "version", version);
  util::close_object(out);
  return out;
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

void register_service_routes(http::Router& router, ApiContext* ctx) {
  router.add(
      "GET", "/status",
      [ctx](Request&) -> asio::awaitable<Response> {
        std::optional<json> cluster;
        if (ctx->cluster != nullptr) cluster = co_await cluster_status_json(*ctx->cluster);
        Response response;
        response.body = status_text(*ctx, cluster ? &*cluster : nullptr);
        co_return response;
      },
      Operation("getStatus", "The service's summary: job counts, running jobs, limits, loop lag, database, cluster")
          .reply(200, "the summary", "Status"));
  router.add(
      "GET", "/metrics",
      [ctx](Request&) -> asio::awaitable<Response> {
        if (ctx->metrics == nullptr || !ctx->snapshot) throw http::service_unavailable("metrics are not enabled");
        Response response;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = ctx->metrics->render(ctx->snapshot());
        co_return response;
      },
      Operation("getMetrics", "Prometheus metrics")
          .describe("Needs a token with auth.protect_reads, unless auth.public_metrics.")
          .reply_text(200, "the metrics, in Prometheus's text format", "text/plain"));
  router.add("GET", "/healthz", json_response(200, {{"status", "ok"}}),
             Operation("getHealth", "Liveness: answers while the process serves").open().reply(200, "alive", "Health"));
  router.add(
      "GET", "/readyz",
      [ctx](Request&) -> asio::awaitable<Response> {
        if (ctx->draining && ctx->draining()) throw http::service_unavailable("draining: the service is stopping");
        require_database_ready(*ctx);
        co_return json_response(200, {{"status", "ready"}});
      },
      Operation("getReadiness", "Readiness: ready to take jobs")
          .open()
          .reply(200, "ready", "Health")
          .problem(503, "stopping, or the configured database is not ready"));
}

}  // namespace

void register_routes(http::Router& router, ApiContext& context) {
  Response docs;
  docs.body = start_docs(*context.config).dump(2);
  router.add("GET", "/start", std::move(docs),
             Operation("getStartDocs", "POST /start's parameters")
                 .reply(200, "the parameters in words, and their JSON Schema (the same as StartParameters)",
                        "StartDocs"));
  register_job_routes(router, context);
  register_database_routes(router, context);
  register_stream_routes(router, context);
  register_webhook_routes(router, context);
  register_service_routes(router, &context);

  Response page;
  page.content_type = "text/html; charset=utf-8";
  page.body = std::string(status_page_html);
  page.header("Cache-Control", "no-cache");
  router.add("GET", "/", std::move(page),
             Operation("getStatusPage", "The status page (one self-contained HTML file)")
                 .open()
                 .reply_text(200, "the page", "text/html"));

  // Last, so that the document has every route, itself included; it is
  // filled in once it is.
  auto document = std::make_shared<std::string>();
  router.add(
      "GET", "/openapi.json",
      [document](Request&) -> asio::awaitable<Response> {
        Response response;
        response.fixed_body = document;
        co_return response;
      },
      Operation("getApiDocument", "This API document (OpenAPI 3.1)").reply(200, "the document", "ApiDocument"));
  *document = openapi_document(router, *context.config).dump(2);
}

}  // namespace crawld::api
