#include "crawld/api/routes.hpp"

#include "crawld/api/database_routes.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_manager.hpp"
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

namespace {

Response job_response(int status, const jobs::Job& job) {
  Response response;
  response.status = status;
  response.body = job.to_json_text();
  response.header("Location", "/jobs/" + job.id);
  return response;
}

// A JSON array of jobs, from their own text (not parsed into a tree first).
std::string job_list_text(const std::vector<const jobs::Job*>& jobs) {
  std::string out = "[";
  for (const auto* job : jobs) {
    if (out.size() > 1) out += ',';
    out += job->to_json_text();
  }
  out += ']';
  return out;
}

// Idempotency keys: 1-255 visible ASCII characters.
bool is_valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  return std::all_of(key.begin(), key.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

jobs::JobManager& manager(ApiContext* ctx) {
  if (ctx->jobs == nullptr) throw http::service_unavailable("the job manager is not running");
  return *ctx->jobs;
}

// 409 for a job that cannot be cancelled here: it ended, or (known only from
// the database) it is not one this instance runs.
http::ApiError not_cancellable(const jobs::Job& job) {
  std::string state(jobs::to_string(job.state));
  return http::conflict(jobs::is_terminal(job.state) ? "job " + job.id + " has already ended (" + state + ")"
                                                     : "job " + job.id + " is " + state + " but not run by this instance")
      .with_member("job", job.to_json());
}

const std::string& job_id_param(Request& request) {
  const std::string& id = request.params["id"];
  if (!jobs::is_valid_job_id(id)) throw http::bad_request("malformed job id \"" + id + "\": expected a UUID");
  return id;
}

}  // namespace

void register_routes(http::Router& router, ApiContext& context) {
  ApiContext* ctx = &context;

  // The docs document depends only on the configuration: render it once.
  auto docs = std::make_shared<std::string>(start_docs(*context.config).dump(2));
  router.add("GET", "/start", [docs](Request&) -> asio::awaitable<Response> {
    Response response;
    response.body = *docs;
    co_return response;
  });

  // So does the parameter table.
  auto defs = std::make_shared<const std::vector<ParamDef>>(start_param_defs(*context.config));
  router.add("POST", "/start", [ctx, defs](Request& request) -> asio::awaitable<Response> {
    auto params = parse_start_params(request.header("content-type").value_or(""), request.body, *defs);
    std::string key(request.header("idempotency-key").value_or(""));
    if (request.header("idempotency-key") && !is_valid_idempotency_key(key)) {
      throw http::bad_request("malformed Idempotency-Key: expected 1-255 visible ASCII characters");
    }
    require_write_backlog_space(*ctx);
    auto result = manager(ctx).submit(std::move(params), key);
    switch (result.status) {
      case jobs::SubmitStatus::created:
        co_return job_response(202, *result.job);
      case jobs::SubmitStatus::replayed:
        if (result.job == nullptr) throw http::conflict("the job for this Idempotency-Key is no longer available");
        co_return job_response(200, *result.job);
      case jobs::SubmitStatus::duplicate: {
        auto error = http::conflict("the same crawl (target " + result.job->params.target + ", season " +
                                    std::to_string(result.job->params.season) +
                                    (result.job->params.deep ? ", deep" : ", shallow") + ") is already " +
                                    std::string(jobs::to_string(result.job->state)) + " as job " + result.job->id);
        error.with_header("Location", "/jobs/" + result.job->id)
            .with_member("job_id", result.job->id)
            .with_member("job", result.job->to_json());
        throw error;
      }
      case jobs::SubmitStatus::queue_full:
        throw http::too_many_requests("the job queue is full (" + std::to_string(ctx->config->jobs.max_queued) +
                                          " queued); retry later",
                                      5);
      case jobs::SubmitStatus::idempotency_mismatch:
        throw http::ApiError(422, "idempotency-key-reused", "Idempotency-Key reused",
                             "this Idempotency-Key was used with different parameters");
      case jobs::SubmitStatus::shutting_down:
        throw http::service_unavailable("the service is shutting down");
    }
    throw http::internal_error("unexpected submit result");
  });

  router.add("GET", "/jobs", [ctx](Request& request) -> asio::awaitable<Response> {
    std::optional<jobs::JobState> state;
    std::vector<http::FieldError> errors;
    if (auto text = request.query_param("status")) {
      state = jobs::parse_job_state(*text);
      if (!state) errors.push_back({"status", "unknown state \"" + std::string(*text) + "\""});
    }
    std::size_t limit = 50;
    if (auto text = request.query_param("limit")) {
      bool digits = !text->empty() && text->size() <= 4 &&
                    std::all_of(text->begin(), text->end(), [](unsigned char c) { return std::isdigit(c); });
      int value = digits ? std::stoi(std::string(*text)) : 0;
      if (value < 1 || value > 500) {
        errors.push_back({"limit", "expected integer 1-500, got \"" + std::string(*text) + "\""});
      }
      limit = static_cast<std::size_t>(value);
    }
    if (!errors.empty()) {
      auto error = http::validation_failed(std::move(errors));
      throw http::ApiError(400, error.slug(), error.title(), error.detail()).with_errors(error.errors());
    }
    manager(ctx);
    // Jobs still in memory, plus the database's history when there is one.
    auto found = co_await list_jobs_with_history(ctx, state, limit);
    json body = {{"count", found.jobs.size()}};
    if (found.unavailable) body["history_unavailable"] = *found.unavailable;
    std::vector<const jobs::Job*> list;
    for (const auto& job : found.jobs) list.push_back(&job);
    co_return json_response(200, body, "jobs", job_list_text(list));
  });

  router.add("GET", "/jobs/{id}", [ctx](Request& request) -> asio::awaitable<Response> {
    std::string id = job_id_param(request);
    manager(ctx);
    auto job = co_await find_job_with_history(ctx, id);
    if (!job) throw http::not_found("no job " + id);
    Response response;
    response.body = job->to_json_text();
    co_return response;
  });

  register_database_routes(router, context);

  auto cancel = [ctx](Request& request) -> asio::awaitable<Response> {
    const auto& id = job_id_param(request);
    auto& jobs = manager(ctx);
    switch (jobs.cancel(id)) {
      case jobs::CancelStatus::not_found: {
        // Not in memory: it may be history that only the database keeps.
        auto known = co_await find_job_with_history(ctx, id);
        if (!known) throw http::not_found("no job " + id);
        throw not_cancellable(*known);
      }
      case jobs::CancelStatus::already_ended:
        throw not_cancellable(*jobs.find(id));
      case jobs::CancelStatus::requested:
        break;
    }
    co_return job_response(202, *jobs.find(id));
  };
  router.add("POST", "/jobs/{id}/cancel", cancel);
  router.add("DELETE", "/jobs/{id}", cancel);

  router.add("GET", "/status", [ctx](Request&) -> asio::awaitable<Response> {
    auto& jobs = manager(ctx);
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
    co_return json_response(200, body, "running", job_list_text(jobs.list(jobs::JobState::running, 10'000)));
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
