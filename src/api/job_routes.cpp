// POST /start, GET /jobs, GET /jobs/{id}, and cancelling a job: parse the
// request, call JobService, render its answer.
#include "crawld/api/database_routes.hpp"
#include "crawld/api/job_json.hpp"
#include "crawld/api/openapi.hpp"
#include "crawld/api/request_params.hpp"
#include "crawld/api/routes.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_service.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::Response;

namespace {

Response job_response(int status, const jobs::Job& job) {
  Response response;
  response.status = status;
  response.body = job_json(job);
  response.header("Location", "/jobs/" + job.id);
  return response;
}

// Idempotency keys: 1-255 visible ASCII characters.
std::string idempotency_key(const Request& request) {
  auto header = request.header("idempotency-key");
  if (!header) return {};
  std::string key(*header);
  bool valid = !key.empty() && key.size() <= 255 &&
               std::all_of(key.begin(), key.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (!valid) {
    throw http::validation_failed({{"Idempotency-Key", "expected 1-255 visible ASCII characters"}});
  }
  return key;
}

std::string crawl_name(const jobs::JobParams& params) {
  return "target " + params.target + ", season " + std::to_string(params.season) +
         (params.deep ? ", deep" : ", shallow");
}

// 409 for a job that cannot be cancelled here: it ended, or it is active
// but not run by this process.
http::ApiError not_cancellable(const jobs::Job& job) {
  std::string state(jobs::to_string(job.state));
  auto error = http::conflict(jobs::is_terminal(job.state)
                                  ? "job " + job.id + " has already ended (" + state + ")"
                                  : "job " + job.id + " is " + state + " but not run by this instance");
  error.with_json_member("job", job_json(job));
  return error;
}

// The answer to a submission that was not created.
Response refused(const jobs::SubmitResult& result, const JobsConfig& config) {
  using Status = jobs::SubmitStatus;
  switch (result.status) {
    case Status::replayed:
      if (!result.job) throw http::conflict("the job for this Idempotency-Key is no longer available");
      return job_response(200, *result.job);
    case Status::duplicate: {
      const auto& job = *result.job;
      auto error = http::conflict("the same crawl (" + crawl_name(job.params) + ") is already " +
                                  std::string(jobs::to_string(job.state)) + " as job " + job.id);
      error.with_header("Location", "/jobs/" + job.id).with_member("job_id", job.id);
      error.with_json_member("job", job_json(job));
      throw error;
    }
    case Status::queue_full:
      throw http::too_many_requests(
          "the job queue is full (" + std::to_string(config.max_queued) + " queued); retry later", 5);
    case Status::idempotency_mismatch:
      throw http::ApiError(422, "idempotency-key-reused", "Idempotency-Key reused",
                           "this Idempotency-Key was used with different parameters");
    case Status::shutting_down:
      throw http::service_unavailable("the service is shutting down");
    case Status::created:
      break;
  }
  throw http::internal_error("unexpected submit result");
}

http::Handler start_handler(ApiContext* ctx) {
  // The parameter table depends only on the configuration: built once.
  auto defs = std::make_shared<const std::vector<ParamDef>>(start_param_defs(*ctx->config));
  return [ctx, defs](Request& request) -> asio::awaitable<Response> {
    auto params = parse_start_params(request.header("content-type").value_or(""), request.body, *defs);
    std::string key = idempotency_key(request);
    require_write_backlog_space(*ctx);
    if (!ctx->jobs->shared()) {
      auto result = ctx->jobs->submit(std::move(params), key);
      if (result.status == jobs::SubmitStatus::created) co_return job_response(202, *result.job);
      co_return refused(result, ctx->jobs->config());
    }
    // Cluster mode answers once the job is committed to the shared queue.
    auto result = co_await ctx->jobs->submit_shared(std::move(params), key);
    if (result.status == jobs::SubmitStatus::created) co_return job_response(202, *result.job);
    co_return refused(result, ctx->jobs->config());
  };
}

http::Handler list_handler(ApiContext* ctx) {
  return [ctx](Request& request) -> asio::awaitable<Response> {
    QueryParams query(request);
    auto state = query.status();
    auto limit = query.limit(50, 500);
    query.done();
    // Jobs still in memory, plus the database's history when there is one.
    auto found = co_await ctx->jobs->list(state, limit);
    nlohmann::json body = {{"count", found.jobs.size()}};
    if (found.unavailable) body["history_unavailable"] = *found.unavailable;
    co_return http::json_response(200, body, "jobs", job_list_json(found.jobs));
  };
}

http::Handler job_handler(ApiContext* ctx) {
  return [ctx](Request& request) -> asio::awaitable<Response> {
    std::string id = job_id_param(request);
    auto job = co_await ctx->jobs->find(id);
    if (!job) throw http::not_found("no job " + id);
    Response response;
    response.body = job_json(*job);
    co_return response;
  };
}

http::Handler cancel_handler(ApiContext* ctx) {
  return [ctx](Request& request) -> asio::awaitable<Response> {
    std::string id = job_id_param(request);
    auto result = co_await ctx->jobs->cancel(id);
    switch (result.status) {
      case jobs::CancelStatus::not_found: throw http::not_found("no job " + id);
      case jobs::CancelStatus::already_ended:
      case jobs::CancelStatus::not_here: throw not_cancellable(*result.job);
      case jobs::CancelStatus::requested: break;
    }
    co_return job_response(202, *result.job);
  };
}

}  // namespace

void register_job_routes(http::Router& router, ApiContext& context) {
  const nlohmann::json key_schema = {{"type", "string"}, {"minLength", 1}, {"maxLength", 255}};
  router.add("POST", "/start", start_handler(&context),
             Operation("startCrawl", "Start a crawl")
                 .describe("Answers at once; the crawl runs in the background. GET /start documents the parameters.")
                 .start_body()
                 .request_header("Idempotency-Key", key_schema,
                                 "1-255 visible ASCII characters: a retry with the same key and parameters gets the "
                                 "original job (200), from any instance")
                 .reply(202, "the crawl was accepted: the job", "Job")
                 .reply_header(202, "Location", "the job's URL")
                 .reply(200, "a retry with the same Idempotency-Key: the original job", "Job")
                 .reply_header(200, "Location", "the job's URL")
                 .problem(400, "the body is not valid JSON or form data")
                 .problem(409, "the same crawl is queued or running (jobs.on_duplicate reject): the problem names it")
                 .problem(415, "a Content-Type other than JSON or a form")
                 .problem(422, "invalid parameters, each one named in errors; or an Idempotency-Key reused")
                 .problem(429, "the job queue is full")
                 .reply_header(429, "Retry-After", "seconds")
                 .problem(503, "the service is stopping, or the database cannot take the job now")
                 .reply_header(503, "Retry-After", "seconds"));
  router.add("GET", "/jobs", list_handler(&context),
             Operation("listJobs", "List jobs, newest first")
                 .query("status", {{"type", "string"}}, "only jobs in this state")
                 .query("limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 500}, {"default", 50}},
                        "at most this many")
                 .reply(200, "the jobs in memory, and the database's history when there is one", "JobList")
                 .problem(422, "an invalid status or limit"));
  router.add("GET", "/jobs/{id}", job_handler(&context),
             Operation("getJob", "One job")
                 .reply(200, "the job, with its live progress while it runs", "Job")
                 .problem(404, "no such job")
                 .problem(422, "the id is not a UUID")
                 .problem(503, "the job is not in memory and the database cannot answer"));
  auto cancel = [](std::string id) {
    return Operation(std::move(id), "Cancel a job")
        .describe("A queued job is cancelled at once; a running crawl is stopped (from any instance in cluster mode).")
        .reply(202, "the cancel was recorded: the job", "Job")
        .reply_header(202, "Location", "the job's URL")
        .problem(404, "no such job")
        .problem(409, "the job has ended, or runs elsewhere: the problem carries the job")
        .problem(422, "the id is not a UUID");
  };
  router.add("POST", "/jobs/{id}/cancel", cancel_handler(&context), cancel("cancelJob"));
  router.add("DELETE", "/jobs/{id}", cancel_handler(&context), cancel("deleteJob"));
}

}  // namespace crawld::api
