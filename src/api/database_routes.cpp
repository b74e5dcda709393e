#include "crawld/api/database_routes.hpp"

#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_manager.hpp"
#include "crawld/store/store.hpp"

#include <algorithm>
#include <map>

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
          {"truncated", page.truncated},
          {"title", text_or_null(page.title)},
          {"sha256", text_or_null(page.sha256)},
          {"elapsed_ms", page.elapsed_ms},
          {"error", text_or_null(page.error)},
          {"fetched_at", jobs::format_time(record.fetched_at)}};
}

json event_json(const store::EventRecord& record) {
  return {
      {"id", record.id}, {"at", jobs::format_time(record.at)}, {"level", record.level}, {"message", record.message}};
}

store::Store& require_store(ApiContext* ctx) {
  if (ctx->store == nullptr)
    throw http::service_unavailable("no database is configured: pages and events are not recorded");
  return *ctx->store;
}

// Digits only, at most `max_digits`; nullopt otherwise.
std::optional<std::int64_t> parse_unsigned(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  return std::stoll(std::string(text));
}

struct Window {
  std::int64_t after = 0;
  std::size_t limit = 0;
};

Window parse_window(Request& request, std::size_t default_limit, std::size_t max_limit) {
  Window window{0, default_limit};
  std::vector<http::FieldError> errors;
  if (auto text = request.query_param("limit")) {
    auto value = parse_unsigned(*text, 6);
    if (!value || *value < 1 || static_cast<std::size_t>(*value) > max_limit) {
      errors.push_back(
          {"limit", "expected integer 1-" + std::to_string(max_limit) + ", got \"" + std::string(*text) + "\""});
    } else {
      window.limit = static_cast<std::size_t>(*value);
    }
  }
  if (auto text = request.query_param("after")) {
    auto value = parse_unsigned(*text, 18);
    if (!value) {
      errors.push_back({"after", "expected a non-negative integer (an id from a previous answer), got \"" +
                                     std::string(*text) + "\""});
    } else {
      window.after = *value;
    }
  }
  if (!errors.empty()) {
    auto error = http::validation_failed(std::move(errors));
    throw http::ApiError(400, error.slug(), error.title(), error.detail()).with_errors(error.errors());
  }
  return window;
}

const std::string& job_id_param(Request& request) {
  const std::string& id = request.params["id"];
  if (!jobs::is_valid_job_id(id)) throw http::bad_request("malformed job id \"" + id + "\": expected a UUID");
  return id;
}

}  // namespace

asio::awaitable<JobList> list_jobs_with_history(ApiContext* ctx, std::optional<jobs::JobState> state,
                                                std::size_t limit) {
  JobList result;
  std::map<std::string, jobs::Job> by_id;
  if (ctx->jobs != nullptr) {
    for (const auto* job : ctx->jobs->list(state, limit)) by_id.emplace(job->id, *job);
  }
  if (ctx->store != nullptr) {
    try {
      // Memory is fresher than the database for the jobs it still holds.
      auto history = co_await ctx->store->list_jobs(state, limit);
      for (auto& job : history) by_id.emplace(job.id, std::move(job));
    } catch (const store::StoreUnavailable& error) {
      result.unavailable = error.what();
    }
  }
  for (auto& [id, job] : by_id) result.jobs.push_back(std::move(job));
  std::sort(result.jobs.begin(), result.jobs.end(), [](const jobs::Job& a, const jobs::Job& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id < b.id;
  });
  if (result.jobs.size() > limit) result.jobs.resize(limit);
  co_return result;
}

asio::awaitable<std::optional<jobs::Job>> find_job_with_history(ApiContext* ctx, std::string id) {
  if (ctx->jobs != nullptr) {
    if (const jobs::Job* job = ctx->jobs->find(id)) co_return *job;
  }
  if (ctx->store == nullptr) co_return std::nullopt;
  try {
    co_return co_await ctx->store->find_job(std::move(id));
  } catch (const store::StoreUnavailable& error) {
    throw http::service_unavailable(std::string("job history is unavailable: ") + error.what());
  }
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

void register_database_routes(http::Router& router, ApiContext& context) {
  ApiContext* ctx = &context;

  router.add("GET", "/jobs/{id}/pages", [ctx](Request& request) -> asio::awaitable<Response> {
    std::string id = job_id_param(request);
    auto window = parse_window(request, 100, 1000);
    auto& store = require_store(ctx);
    if (!co_await find_job_with_history(ctx, id)) throw http::not_found("no job " + id);
    std::vector<store::PageRecord> pages;
    try {
      pages = co_await store.pages(id, window.after, window.limit);
    } catch (const store::StoreUnavailable& error) {
      throw http::service_unavailable(error.what());
    }
    json list = json::array();
    for (const auto& page : pages) list.push_back(page_json(page));
    json next = nullptr;
    if (pages.size() == window.limit) {
      next =
          "/jobs/" + id + "/pages?after=" + std::to_string(pages.back().id) + "&limit=" + std::to_string(window.limit);
    }
    co_return json_response({{"job_id", id}, {"pages", std::move(list)}, {"count", pages.size()}, {"next", next}});
  });

  router.add("GET", "/jobs/{id}/events", [ctx](Request& request) -> asio::awaitable<Response> {
    std::string id = job_id_param(request);
    auto window = parse_window(request, 1000, 1000);
    auto& store = require_store(ctx);
    if (!co_await find_job_with_history(ctx, id)) throw http::not_found("no job " + id);
    std::vector<store::EventRecord> events;
    try {
      events = co_await store.events(id, window.after, window.limit);
    } catch (const store::StoreUnavailable& error) {
      throw http::service_unavailable(error.what());
    }
    json list = json::array();
    for (const auto& event : events) list.push_back(event_json(event));
    json next = nullptr;
    if (events.size() == window.limit) {
      next = "/jobs/" + id + "/events?after=" + std::to_string(events.back().id) +
             "&limit=" + std::to_string(window.limit);
    }
    co_return json_response({{"job_id", id}, {"events", std::move(list)}, {"count", events.size()}, {"next", next}});
  });
}

}  // namespace crawld::api
