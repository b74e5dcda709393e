// The API's view of the database: a job's pages and events, and the
// database's state for /readyz, /status and POST /start's back-pressure.
// Reads go through store::Store (on its pool, bounded by read_timeout_ms);
// when the database cannot answer, the store throws util::Unavailable and
// the request gets 503 instead of waiting.
#pragma once

#include "crawld/api/routes.hpp"

#include <nlohmann/json.hpp>

namespace crawld::store {
struct EventRecord;
}

namespace crawld::api {

// A job's event row as the API shows it (lists and live streams).
nlohmann::json event_json(const store::EventRecord& record);

// "database" member of /status; {"configured": false} without a database.
nlohmann::json database_status_json(const ApiContext& ctx);

// Throws 503 when a database is configured but not ready (for /readyz).
void require_database_ready(const ApiContext& ctx);

// Throws 503 (with Retry-After) while the job rows and events waiting to be
// written fill database.max_backlog_rows (for POST /start): accepting more
// jobs would grow the write queue without bound.
void require_write_backlog_space(const ApiContext& ctx);

}  // namespace crawld::api
