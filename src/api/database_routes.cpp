#include "crawld/api/database_routes.hpp"

#include "crawld/api/openapi.hpp"
#include "crawld/api/request_params.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/store/store.hpp"
#include "crawld/api/event_streams.hpp"

#include <algorithm>
#include <cctype>

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using nlohmann::json;

namespace {

Response json_response(const json& body) { return http::json_response(200, body); }

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json page_json(const store::PageRecord& record) {
  const auto& page = record.page;
  return {{"id", record.id},
          {"url", page.url},
          {"final_url", text_or_null(page.final_url)},
          {"depth", page.depth},
          {"status", page.status},
          {"content_type", text_or_null(page.content_type)},
          {"bytes", page.bytes},
          {"wire_bytes", page.wire_bytes},
          {"truncated", page.truncated},
          {"title", text_or_null(page.title)},
          {"sha256", text_or_null(page.sha256)},
          {"canonical", text_or_null(page.canonical)},
          {"elapsed_ms", page.elapsed_ms},
          {"error", text_or_null(page.error)},
          {"fetched_at", jobs::format_time(record.fetched_at)}};
}

store::Store& require_store(ApiContext* ctx) {
  if (ctx->store == nullptr)
    throw http::service_unavailable("no database is configured: pages and events are not recorded");
  return *ctx->store;
}

}  // namespace

nlohmann::json event_json(const store::EventRecord& record) {
  return {
      {"id", record.id}, {"at", jobs::format_time(record.at)}, {"level", record.level}, {"message", record.message}};
}

nlohmann::json database_status_json(const ApiContext& ctx) {
  if (ctx.store == nullptr) return {{"configured", false}};
  auto status = ctx.store->status();
  return {
      {"configured", true},
      {"up", status.up},
      {"ready", status.ready()},
      {"migrated", status.migrated},
      {"refused", status.refused},
      {"schema_version", status.schema_version},
      {"instance_id", ctx.store->instance_id()},
      {"last_error", text_or_null(status.last_error)},
      {"last_error_at", status.last_error_at ? json(jobs::format_time(*status.last_error_at)) : json(nullptr)},
      {"backlog", {{"pages", status.backlog_pages}, {"events", status.backlog_events}, {"jobs", status.backlog_jobs}}},
      {"accepting_jobs", !ctx.store->backlog_full()},
      {"pages_written", status.pages_written},
      {"rows_fenced", status.rows_fenced},
      {"rows_rejected", status.rows_rejected}};
}

void require_write_backlog_space(const ApiContext& ctx) {
  if (ctx.store == nullptr || !ctx.store->backlog_full()) return;
  // The database is down or too slow: refuse new jobs rather than lose rows.
  auto status = ctx.store->status();
  auto error = http::service_unavailable(
      "the database write backlog is full (" + std::to_string(status.backlog_events) + " events and " +
      std::to_string(status.backlog_jobs) + " job updates waiting); no new jobs until it drains, retry later");
  error.with_header("Retry-After", "5");
  throw error;
}

void require_database_ready(const ApiContext& ctx) {
  if (ctx.store == nullptr) return;
  auto status = ctx.store->status();
  if (status.ready()) return;
  std::string why = status.refused              ? status.last_error
                    : status.last_error.empty() ? std::string("not connected yet")
                                                : status.last_error;
  throw http::service_unavailable("database not ready: " + why);
}

namespace {

// The answer for one page of a job's rows: the list, its size and the link
// to the next page (null on the last one).
template <class Record, class Render>
Response window_response(const std::string& id, const char* what, const std::vector<Record>& records, std::size_t limit,
                         Render render) {
  json list = json::array();
  for (const auto& record : records) list.push_back(render(record));
  json next = nullptr;
  if (records.size() == limit) {
    next =
        "/jobs/" + id + "/" + what + "?after=" + std::to_string(records.back().id) + "&limit=" + std::to_string(limit);
  }
  return json_response({{"job_id", id}, {what, std::move(list)}, {"count", records.size()}, {"next", next}});
}

// A live stream is asked for by Accept: text/event-stream, or ?follow=true
// (for clients that cannot set headers).
bool wants_stream(const Request& request) {
  if (auto follow = request.query_param("follow")) {
    if (*follow == "true") return true;
    if (*follow == "false") return false;
    throw http::validation_failed({{"follow", "expected true or false, got \"" + std::string(*follow) + "\""}});
  }
  auto accept = request.header("accept");
  if (!accept) return false;
  std::string lower(*accept);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("text/event-stream") != std::string::npos;
}

// The Last-Event-ID a reconnecting EventSource sends: a row id.
std::optional<std::int64_t> last_event_id(const Request& request) {
  auto header = request.header("last-event-id");
  if (!header) return std::nullopt;
  std::string_view text = *header;
  bool digits = !text.empty() && text.size() <= 18 &&
                std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!digits) {
    throw http::validation_failed(
        {{"Last-Event-ID", "expected the id of an event row (digits), got \"" + std::string(text) + "\""}});
  }
  return std::stoll(std::string(text));
}

}  // namespace

void register_database_routes(http::Router& router, ApiContext& context) {
  // A page of a job's rows: ?after=ID&limit=N, validated, for a job that exists.
  auto window = [ctx = &context](const char* what, std::size_t default_limit, std::size_t max_limit, auto read,
                                 auto render) -> http::Handler {
    return [=](Request& request) -> asio::awaitable<Response> {
      std::string id = job_id_param(request);
      QueryParams query(request);
      auto limit = query.limit(default_limit, max_limit);
      auto after = query.after();
      query.done();
      auto& store = require_store(ctx);
      auto job = co_await ctx->jobs->find(id);
      if (!job) throw http::not_found("no job " + id);
      // A finished job's rows may still be on their way to the database:
      // its list is read once they are there (or the read timeout passed).
      if (jobs::is_terminal(job->state)) {
        co_await store.rows_written(id, std::chrono::milliseconds(ctx->config->database.read_timeout_ms));
      }
      auto& repository = store.repository();
      auto records = co_await read(repository, id, after, limit);
      co_return window_response(id, what, records, limit, render);
    };
  };
  auto document = [](std::string id, std::string summary, std::string_view list, int default_limit, int max_limit) {
    return Operation(std::move(id), std::move(summary))
        .query("after", {{"type", "integer"}, {"minimum", 0}, {"default", 0}},
               "the last id of the previous page (its next link has it)")
        .query("limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", max_limit}, {"default", default_limit}},
               "at most this many")
        .reply(200, "one page of rows, oldest first", list)
        .problem(404, "no such job")
        .problem(422, "an invalid id, after or limit")
        .problem(503, "no database is configured, or it cannot answer");
  };
  router.add("GET", "/jobs/{id}/pages",
             window(
                 "pages", 100, 1000,
                 [](store::JobRepository& r, std::string id, std::int64_t after, std::size_t limit) {
                   return r.pages(std::move(id), after, limit);
                 },
                 page_json),
             document("listPages", "The pages a job fetched", "PageList", 100, 1000));
  auto list_events = window(
      "events", 1000, 1000,
      [](store::JobRepository& r, std::string id, std::int64_t after, std::size_t limit) {
        return r.events(std::move(id), after, limit);
      },
      [](const store::EventRecord& record) { return event_json(record); });
  // The same path streams the events live when the client asks for a stream.
  router.add(
      "GET", "/jobs/{id}/events",
      [ctx = &context, list_events](Request& request) -> asio::awaitable<Response> {
        if (!wants_stream(request)) co_return co_await list_events(request);
        std::string id = job_id_param(request);
        QueryParams query(request);
        auto after = query.after();
        query.done();
        if (auto resume = last_event_id(request)) after = *resume;
        auto job = co_await ctx->jobs->find(id);
        if (!job) throw http::not_found("no job " + id);
        co_return ctx->streams->follow_job(std::move(*job), after);
      },
      document("listEvents", "A job's events, as a list or live", "EventList", 1000, 1000)
          .describe("A page of the job's event rows (application/json), or, with `Accept: text/event-stream` or "
                    "`?follow=true`, a live stream (text/event-stream): `event: state` with the job (the Job "
                    "schema) first and at each state change, `event: log` with each event row (the Event schema) "
                    "as it is written, its `id:` the row's id, `event: progress` with the job at most once a "
                    "second while it runs, and a final `event: state` after the job's last row; then the stream "
                    "ends. `Last-Event-ID` (or `after`) resumes after that row. Without a database the rows are "
                    "sent as they happen, without ids. Beyond server.max_streams open streams: 503. A comment line goes after server.stream_heartbeat_ms "
                    "without an event.")
          .query("follow", {{"type", "boolean"}, {"default", false}},
                 "true: a live stream (text/event-stream), as Accept: text/event-stream asks")
          .request_header("Last-Event-ID", {{"type", "string"}, {"pattern", "^[0-9]{1,18}$"}},
                          "a live stream resumes after this event row (EventSource sends it on reconnecting)")
          .or_text(200, "text/event-stream"));
}

}  // namespace crawld::api
