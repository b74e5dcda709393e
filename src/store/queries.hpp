// The SQL of the store (private to src/store: it exposes libpqxx). Each
// function runs blocking on a pool thread with that thread's connection.
#pragma once

#include "crawld/jobs/job.hpp"
#include "crawld/store/schema.hpp"
#include "crawld/store/store.hpp"

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

namespace crawld::store {

// Schema (schema.cpp).
MigrationOutcome apply_migrations(pqxx::connection& connection);

struct RecoveredJob {
  std::string id;
  std::string previous_state;
};
// Marks this instance's queued/running jobs created before `started_at`
// interrupted, each with an event.
std::vector<RecoveredJob> recover_interrupted(pqxx::connection& connection, const std::string& instance_id,
                                              jobs::Clock::time_point started_at);

// Writes (batch.cpp).
struct EventRow {
  std::string job_id;
  jobs::Clock::time_point at{};
  std::string level;
  std::string message;
};

struct PageRow {
  std::string job_id;
  crawl::PageResult page;
  jobs::Clock::time_point fetched_at{};
};

struct Batch {
  std::vector<jobs::Job> jobs;  // at most one snapshot per job, the newest
  std::vector<EventRow> events;
  std::vector<PageRow> pages;

  std::size_t rows() const { return events.size() + pages.size(); }
};

struct RejectedRow {
  std::string job_id;
  std::string what;   // "page https://...", "event", "job"
  std::string error;  // the server's message
};

struct BatchResult {
  std::vector<RejectedRow> rejected;
  bool row_by_row = false;  // the fast path failed on bad data
  std::size_t pages_inserted = 0;
};

// One transaction. Throws only errors a retry can fix (see is_transient);
// rows the schema rejects are skipped, reported and recorded as job events.
BatchResult write_batch(pqxx::connection& connection, const Batch& batch);

// Reads (reads.cpp).
std::vector<jobs::Job> select_jobs(pqxx::connection& connection, std::optional<jobs::JobState> state,
                                   std::size_t limit);
std::optional<jobs::Job> select_job(pqxx::connection& connection, const std::string& id);
std::vector<PageRecord> select_pages(pqxx::connection& connection, const std::string& job_id, std::int64_t after,
                                     std::size_t limit);
std::vector<EventRecord> select_events(pqxx::connection& connection, const std::string& job_id, std::int64_t after,
                                       std::size_t limit);

// Quoting helpers shared by the files above.
std::string sql_text(pqxx::transaction_base& tx, std::string_view text);          // sanitized, quoted
std::string sql_text_or_null(pqxx::transaction_base& tx, std::string_view text);  // NULL when empty
std::string sql_time(pqxx::transaction_base& tx, jobs::Clock::time_point when);
std::string sql_time_or_null(pqxx::transaction_base& tx, const std::optional<jobs::Clock::time_point>& when);

}  // namespace crawld::store
