#include "statements.hpp"

#include "crawld/crawl/page_result.hpp"

#include <string>

namespace crawld::store::statements {

namespace {

// A job row's columns besides its progress counters (crawl::progress_fields,
// one bigint column each, named as in the API).
const std::string job_fixed_record =
    "id uuid, target text, season bigint, deep boolean, params jsonb, state text, stop_reason text, error text,"
    " created_at timestamptz, started_at timestamptz, finished_at timestamptz, instance_id text,"
    " idempotency_key text, attempt integer";
const std::string job_fixed_columns =
    "id, target, season, deep, params, state, stop_reason, error, created_at, started_at, finished_at,"
    " instance_id, idempotency_key, attempt";

// ", bytes<suffix>, failed<suffix>, ..." over the progress counters.
std::string progress_list(std::string_view suffix) {
  std::string out;
  for (const auto& field : crawl::progress_fields) {
    out += ", ";
    out += field.name;
    out += suffix;
  }
  return out;
}

// The columns of a job row, as jsonb_to_recordset reads them from a batch.
const std::string job_record = "(" + job_fixed_record + progress_list(" bigint") + ")";
const std::string job_columns = job_fixed_columns + progress_list("");
const std::string jobs_from_batch = "insert into crawl_jobs (" + job_columns + ", updated_at) select " + job_columns +
                                    ", now() from jsonb_to_recordset($1::jsonb) as j" + job_record;

// "column = <from>.column, ..." over what a snapshot changes.
std::string updates_from(std::string_view from) {
  std::string out;
  auto add = [&](std::string_view column) {
    out.append(column).append(" = ").append(from).append(".").append(column).append(", ");
  };
  for (std::string_view column : {"target", "season", "deep", "params", "state", "stop_reason", "error", "started_at",
                                  "finished_at", "instance_id", "idempotency_key", "attempt"}) {
    add(column);
  }
  for (const auto& field : crawl::progress_fields) add(field.name);
  return out + "updated_at = now()";
}

// A batch holds one snapshot per job (the newest), so a multi-row upsert
// never meets the same id twice.
const std::string jobs_conflict = " on conflict (id) do update set " + updates_from("excluded");

// Cluster mode: the rows exist (accepted durably) and the batch holds
// their locks (lock_owned), so a plain update does: an upsert would lock
// each row once more before updating it.
const std::string update_jobs_sql = "update crawl_jobs c set " + updates_from("j") +
                                    " from jsonb_to_recordset($1::jsonb) as j" + job_record +
                                    " where c.id = j.id and c.attempt = j.attempt";

// $2 is the progress as the job's JSON renders it.
std::string record_progress_sql() {
  std::string columns = progress_list("").substr(2);
  return "update crawl_jobs set (" + columns + ") = (select " + columns + " from jsonb_to_record($2::jsonb) as p(" +
         progress_list(" bigint").substr(2) + ")), updated_at = now() where id = $1::uuid";
}

// Events keep the batch's order (their ids are the job's log order).
const std::string events_from_batch =
    "insert into crawl_job_events (job_id, at, level, message)"
    " select job_id, at, level, message from rows from ("
    "jsonb_to_recordset($1::jsonb) as (job_id uuid, at timestamptz, level text, message text))"
    " with ordinality as e(job_id, at, level, message, n) order by n";

const std::string page_columns =
    "job_id, url, final_url, depth, status, content_type, bytes, truncated, title, sha256, elapsed_ms, error, "
    "fetched_at,"
    " attempt, canonical, wire_bytes";
const std::string pages_from_batch =
    "insert into crawl_pages (" + page_columns + ") select " + page_columns +
    " from jsonb_to_recordset($1::jsonb) as p(job_id uuid, url text, final_url text, depth integer, status integer,"
    " content_type text, bytes bigint, truncated boolean, title text, sha256 text, elapsed_ms integer, error text,"
    " fetched_at timestamptz, attempt integer, canonical text, wire_bytes bigint) on conflict (job_id, url) do nothing";

const std::string deliveries_from_batch =
    "insert into webhook_deliveries (id, job_id, event, url, payload, created_at, next_attempt_at)"
    " select id, job_id, event, url, payload, created_at, created_at from jsonb_to_recordset($1::jsonb)"
    " as d(id uuid, job_id uuid, event text, url text, payload text, created_at timestamptz)"
    " on conflict (id) do nothing";

}  // namespace

std::string epoch_ms(const char* column) { return std::string("(extract(epoch from ") + column + ") * 1000)::bigint"; }

std::string job_fields() {
  return "id::text, target, season, deep, params::text, state, stop_reason, error, " + epoch_ms("created_at") + ", " +
         epoch_ms("started_at") + ", " + epoch_ms("finished_at") + ", instance_id, idempotency_key, attempt" +
         progress_list("");
}

int job_field_count() { return job_fixed_count + static_cast<int>(std::size(crawl::progress_fields)); }

namespace {
const std::string job_select = "select " + job_fields() + " from crawl_jobs";
}  // namespace

void prepare_all(pqxx::connection& connection) {
  connection.prepare(upsert_jobs, jobs_from_batch + jobs_conflict);
  connection.prepare(update_jobs, update_jobs_sql);
  connection.prepare(insert_events, events_from_batch);
  connection.prepare(insert_pages, pages_from_batch);
  connection.prepare(insert_deliveries, deliveries_from_batch);
  prepare_webhooks(connection);
  connection.prepare(insert_job, jobs_from_batch);
  connection.prepare(change_state,
                     "update crawl_jobs set state = $2, stop_reason = $3, error = $4, started_at = $5::timestamptz,"
                     " finished_at = $6::timestamptz, updated_at = now() where id = $1::uuid");
  connection.prepare(record_progress, record_progress_sql());
  connection.prepare(select_job, job_select + " where id = $1::uuid");
  connection.prepare(select_jobs, job_select + " order by created_at desc, id limit $1");
  connection.prepare(select_jobs_in_state, job_select + " where state = $1 order by created_at desc, id limit $2");
  connection.prepare(select_pages,
                     "select id, url, final_url, depth, status, content_type, bytes, truncated, title, sha256,"
                     " elapsed_ms, error, " +
                         epoch_ms("fetched_at") + ", canonical, coalesce(wire_bytes, bytes)" +
                         " from crawl_pages where job_id = $1::uuid and id > $2 order by id limit $3");
  connection.prepare(select_events, "select id, " + epoch_ms("at") +
                                        ", level, message from crawl_job_events"
                                        " where job_id = $1::uuid and id > $2 order by id limit $3");
  prepare_cluster(connection);
}

}  // namespace crawld::store::statements
