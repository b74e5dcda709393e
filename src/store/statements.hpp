// Every SQL statement of the store, by name (private to src/store).
//
// No statement text is built from values: each one takes its values as
// parameters ($1, $2, ...), and the batched writes take a whole batch as one
// JSON array parameter that PostgreSQL unpacks with jsonb_to_recordset. The
// pool prepares them all on every connection it opens (libpqxx registers
// them there and prepares each on its first use).
#pragma once

#include <pqxx/pqxx>

namespace crawld::store::statements {

// Batched writes: $1 is a JSON array of rows.
inline constexpr const char* upsert_jobs = "crawld_upsert_jobs";
inline constexpr const char* update_jobs = "crawld_update_jobs";  // cluster mode: rows that exist, locked
inline constexpr const char* insert_events = "crawld_insert_events";
inline constexpr const char* insert_pages = "crawld_insert_pages";  // on conflict (job_id, url) do nothing
inline constexpr const char* insert_deliveries = "crawld_insert_deliveries";  // on conflict (id) do nothing

// The webhook outbox (webhook_outbox.cpp).
inline constexpr const char* claim_deliveries = "crawld_claim_deliveries";  // n, '{busy url}', lease_ms
inline constexpr const char* record_delivery =
    "crawld_record_delivery";  // id, n, status, error, elapsed_ms, state, next_attempt_at (ms)
inline constexpr const char* select_deliveries = "crawld_select_deliveries";  // job id or null, limit
inline constexpr const char* select_delivery_attempts = "crawld_select_delivery_attempts";  // '{uuid,...}'

// JobRepository's commands.
inline constexpr const char* insert_job = "crawld_insert_job";      // $1: a JSON array of one job
inline constexpr const char* change_state = "crawld_change_state";  // id, state, stop_reason, error, started, finished
inline constexpr const char* record_progress = "crawld_record_progress";  // id, progress (the job JSON's object)

// Reads.
inline constexpr const char* select_job = "crawld_select_job";                      // id
inline constexpr const char* select_jobs = "crawld_select_jobs";                    // limit
inline constexpr const char* select_jobs_in_state = "crawld_select_jobs_in_state";  // state, limit
inline constexpr const char* select_pages = "crawld_select_pages";                  // job id, after, limit
inline constexpr const char* select_events = "crawld_select_events";                // job id, after, limit

// Registers every statement above on `connection`.
// Cluster mode (cluster_statements.cpp).
inline constexpr const char* lock_owned = "crawld_lock_owned";  // '{uuid,...}', owner -> (id, attempt), locked
inline constexpr const char* submit_jobs =
    "crawld_submit_jobs";  // batch, max_queued, instance, lease_ms -> (n, outcome, job)
// The same for a group of rows with neither key that all have a slot.
inline constexpr const char* submit_claimed =
    "crawld_submit_claimed";  // batch, instance, lease_ms -> (n, outcome, job)
inline constexpr const char* claim_job = "crawld_claim_job";  // owner, lease_ms, one_per_crawl, n -> jobs + time left
inline constexpr const char* heartbeat = "crawld_heartbeat";  // owner, lease_ms, '{uuid}', '{attempt}' -> kept
inline constexpr const char* release_attempt = "crawld_release_attempt";  // id, owner, attempt, why
inline constexpr const char* rescue_expired = "crawld_rescue_expired";    // instance, max_attempts, also_owner
inline constexpr const char* cancel_job = "crawld_cancel_job";            // id, instance -> outcome
inline constexpr const char* register_instance = "crawld_register_instance";
inline constexpr const char* beat_instance = "crawld_beat_instance";
inline constexpr const char* select_instances = "crawld_select_instances";
inline constexpr const char* count_active = "crawld_count_active";

// Times travel as milliseconds since the epoch: no time zone parsing.
std::string epoch_ms(const char* column);
// A job row's columns, in the order reads.cpp's job_from_row reads them:
// job_fixed_count fixed ones, then crawl::progress_fields in order.
std::string job_fields();
inline constexpr int job_fixed_count = 14;
// How many columns job_fields() selects (a statement's own columns follow).
int job_field_count();

void prepare_all(pqxx::connection& connection);
void prepare_cluster(pqxx::connection& connection);
void prepare_webhooks(pqxx::connection& connection);

}  // namespace crawld::store::statements
