// The store's SQL work, as blocking functions that run on a pool thread with
// that thread's connection (private to src/store: it exposes libpqxx). Each
// one runs prepared statements (statements.hpp) with its values as
// parameters.
#pragma once

#include "crawld/jobs/job.hpp"
#include "crawld/store/schema.hpp"
#include "crawld/store/store.hpp"
#include "rows.hpp"

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
struct Batch {
  std::vector<jobs::Job> jobs;  // at most one snapshot per job, the newest
  std::vector<EventRow> events;
  std::vector<PageRow> pages;
  // Webhook deliveries of the state changes in `jobs` (or committed
  // before): the outbox row lands with its change.
  std::vector<webhooks::Delivery> deliveries;
  // Cluster mode: the instance whose attempts these rows belong to; rows of
  // attempts it no longer owns (its lease ran out, the job was rescued) are
  // not written. Empty: standalone, nothing fenced.
  std::string owner;

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
  std::size_t fenced = 0;  // rows not written: their attempt is no longer ours
};

// Cluster mode joins job rows with the ids a statement brings along (a
// batch's jobs, the attempts a heartbeat holds). The planner takes such a
// list for 100 rows; with the statistics of a table that grew since its
// last ANALYZE (the first minute of a database, or any burst), or with a
// generic plan made while the table was small, it then reads crawl_jobs
// whole for every batch and hashes it. For the rest of the transaction,
// the rows are found through their keys whatever the statistics say.
void find_jobs_by_key(pqxx::transaction_base& tx);

// One transaction. Throws only errors a retry can fix (see is_transient);
// rows the schema rejects are skipped, reported and recorded as job events.
BatchResult write_batch(pqxx::connection& connection, const Batch& batch);

// Reads (reads.cpp).
// A row of statements::job_fields().
jobs::Job job_from_row(const pqxx::row& row);
std::vector<jobs::Job> select_jobs(pqxx::connection& connection, std::optional<jobs::JobState> state,
                                   std::size_t limit);
std::optional<jobs::Job> select_job(pqxx::connection& connection, const std::string& id);
std::vector<PageRecord> select_pages(pqxx::connection& connection, const std::string& job_id, std::int64_t after,
                                     std::size_t limit);
std::vector<EventRecord> select_events(pqxx::connection& connection, const std::string& job_id, std::int64_t after,
                                       std::size_t limit);

}  // namespace crawld::store
