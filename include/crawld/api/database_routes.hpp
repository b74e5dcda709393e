// The API's view of the database: job history beyond what is kept in
// memory, a job's pages and events, and the database's state for /readyz
// and /status. Reads go through store::Store (on its pool, bounded by
// read_timeout_ms); when the database cannot answer, the endpoints answer
// 503 problem+json instead of waiting.
#pragma once

#include "crawld/api/routes.hpp"
#include "crawld/jobs/job.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace crawld::api {

// GET /jobs/{id}/pages and GET /jobs/{id}/events.
void register_database_routes(http::Router& router, ApiContext& context);

// Jobs in memory merged with the database's history, newest first. When the
// database is unavailable, the in-memory jobs and `unavailable` set.
struct JobList {
  std::vector<jobs::Job> jobs;
  std::optional<std::string> unavailable;
};
boost::asio::awaitable<JobList> list_jobs_with_history(ApiContext* ctx, std::optional<jobs::JobState> state,
                                                       std::size_t limit);

// A job from memory, else from the database; nullopt when neither knows it.
// Throws 503 when the database would have to answer and cannot.
boost::asio::awaitable<std::optional<jobs::Job>> find_job_with_history(ApiContext* ctx, std::string id);

// "database" member of /status; null when no database is configured.
nlohmann::json database_status_json(const ApiContext& ctx);

// Throws 503 when a database is configured but not ready (for /readyz).
void require_database_ready(const ApiContext& ctx);

// Throws 503 (with Retry-After) while the job rows and events waiting to be
// written fill database.max_backlog_rows (for POST /start): accepting more
// jobs would grow the write queue without bound.
void require_write_backlog_space(const ApiContext& ctx);

}  // namespace crawld::api
