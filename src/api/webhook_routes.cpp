// GET /webhooks/deliveries: what the webhooks were sent, and how it went.
#include "crawld/api/openapi.hpp"
#include "crawld/api/request_params.hpp"
#include "crawld/api/routes.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/webhooks/outbox.hpp"

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using nlohmann::json;

namespace {

json time_or_null(const std::optional<jobs::Clock::time_point>& at) {
  return at ? json(jobs::format_time(*at)) : json(nullptr);
}

json delivery_json(const webhooks::DeliveryRecord& record) {
  const auto& d = record.delivery;
  json log = json::array();
  for (const auto& a : record.attempts) {
    log.push_back({{"n", a.n},
                   {"at", jobs::format_time(a.at)},
                   {"status", a.status != 0 ? json(a.status) : json(nullptr)},
                   {"error", a.error.empty() ? json(nullptr) : json(a.error)},
                   {"elapsed_ms", a.elapsed_ms}});
  }
  return {{"id", d.id},
          {"job_id", d.job_id},
          {"event", d.event},
          {"url", d.url},
          {"state", webhooks::to_string(record.state)},
          {"attempts", d.attempts},
          {"created_at", jobs::format_time(d.created_at)},
          {"next_attempt_at", time_or_null(record.next_attempt_at)},
          {"delivered_at", time_or_null(record.delivered_at)},
          {"attempt_log", std::move(log)}};
}

}  // namespace

void register_webhook_routes(http::Router& router, ApiContext& context) {
  router.add(
      "GET", "/webhooks/deliveries",
      [ctx = &context](Request& request) -> asio::awaitable<Response> {
        QueryParams query(request);
        auto job = query.job();
        auto limit = query.limit(100, 1000);
        query.done();
        auto records = co_await ctx->outbox->list(std::move(job), limit);
        json list = json::array();
        for (const auto& record : records) list.push_back(delivery_json(record));
        co_return http::json_response(200, {{"deliveries", std::move(list)}, {"count", records.size()}});
      },
      Operation("listWebhookDeliveries", "Webhook deliveries and their attempts")
          .describe("The deliveries of job state changes to the configured webhooks, newest first, each with its "
                    "attempts: pending (next_attempt_at says when it is tried again), delivered (a 2xx answer), or "
                    "failed (webhooks_max_age_s passed). Without a database they are kept in memory only.")
          .query("job", {{"type", "string"}, {"format", "uuid"}}, "only this job's deliveries")
          .query("limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100}},
                 "at most this many")
          .reply(200, "the deliveries, newest first", "DeliveryList")
          .problem(422, "an invalid job id or limit")
          .problem(503, "the database cannot answer"));
}

}  // namespace crawld::api
