#include "crawld/store/text.hpp"
#include "db_pool.hpp"
#include "queries.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <functional>

namespace crawld::store {

namespace {

// One field of a COPY row: text, or NULL. libpqxx escapes the text (tabs,
// newlines, backslashes) for COPY's text format.
struct CopyField {
  std::string text;
  bool null = false;
};

}  // namespace

}  // namespace crawld::store

template <>
struct pqxx::string_traits<crawld::store::CopyField> {
  using CopyField = crawld::store::CopyField;
  static constexpr const char* name() noexcept { return "CopyField"; }
  static constexpr bool has_null() noexcept { return true; }
  static bool is_null(const CopyField& field) { return field.null; }
  static CopyField null() { return {{}, true}; }
  static void from_string(const char text[], CopyField& field) { field = {text, false}; }
  static std::string to_string(const CopyField& field) { return field.text; }
};

namespace crawld::store {

namespace {

// Rows per INSERT statement; keeps statements well below protocol limits.
constexpr std::size_t rows_per_statement = 500;

const char* jobs_insert =
    "insert into crawl_jobs (id, target, season, deep, params, state, stop_reason, error, created_at,"
    " started_at, finished_at, queued, fetched, failed, skipped, bytes, instance_id, idempotency_key, updated_at)"
    " values ";
// A batch holds one snapshot per job (the newest), so a multi-row upsert
// never meets the same id twice.
const char* jobs_conflict =
    " on conflict (id) do update set target = excluded.target, season = excluded.season,"
    " deep = excluded.deep, params = excluded.params, state = excluded.state,"
    " stop_reason = excluded.stop_reason, error = excluded.error, started_at = excluded.started_at,"
    " finished_at = excluded.finished_at, queued = excluded.queued, fetched = excluded.fetched,"
    " failed = excluded.failed, skipped = excluded.skipped, bytes = excluded.bytes, instance_id = excluded.instance_id,"
    " idempotency_key = excluded.idempotency_key, updated_at = now()";

// The params column: what was asked for, as a JSON object.
std::string params_text(const jobs::JobParams& params) {
  nlohmann::json object = {{"target", params.target},
                           {"season", params.season},
                           {"deep", params.deep},
                           {"timeout", params.timeout_s},
                           {"log_to_db", params.log_to_db}};
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string job_values(pqxx::transaction_base& tx, const jobs::Job& job) {
  const auto& p = job.progress;
  return "(" + tx.quote(job.id) + ", " + sql_text(tx, job.params.target) + ", " + std::to_string(job.params.season) +
         ", " + (job.params.deep ? "true" : "false") + ", " + sql_text(tx, params_text(job.params)) + "::jsonb, " +
         tx.quote(std::string(jobs::to_string(job.state))) + ", " +
         (job.stop_reason == jobs::StopReason::none ? std::string("null")
                                                    : tx.quote(std::string(jobs::to_string(job.stop_reason)))) +
         ", " + sql_text_or_null(tx, job.error) + ", " + sql_time(tx, job.created_at) + ", " +
         sql_time_or_null(tx, job.started_at) + ", " + sql_time_or_null(tx, job.finished_at) + ", " +
         std::to_string(p.queued) + ", " + std::to_string(p.fetched) + ", " + std::to_string(p.failed) + ", " +
         std::to_string(p.skipped) + ", " + std::to_string(p.bytes) + ", " + sql_text(tx, job.instance_id) + ", " +
         sql_text_or_null(tx, job.idempotency_key) + ", now())";
}

const char* events_insert = "insert into crawl_job_events (job_id, at, level, message) values ";

std::string event_values(pqxx::transaction_base& tx, const EventRow& event) {
  return "(" + tx.quote(event.job_id) + ", " + sql_time(tx, event.at) + ", " + sql_text(tx, event.level) + ", " +
         sql_text(tx, event.message) + ")";
}

const std::array<std::string, 13> page_columns{"job_id", "url",   "final_url", "depth",      "status",
                                               "content_type", "bytes", "truncated", "title",  "sha256",
                                               "elapsed_ms",   "error", "fetched_at"};

CopyField copy_text(std::string_view text) { return {sanitize_text(text), false}; }
CopyField copy_text_or_null(std::string_view text) { return text.empty() ? CopyField{{}, true} : copy_text(text); }

std::array<CopyField, page_columns.size()> page_fields(const PageRow& row) {
  const auto& page = row.page;
  return {CopyField{row.job_id},
          copy_text(page.url),
          copy_text_or_null(page.final_url),
          CopyField{std::to_string(page.depth)},
          CopyField{std::to_string(page.status)},
          copy_text_or_null(page.content_type),
          CopyField{std::to_string(page.bytes)},
          CopyField{page.truncated ? "t" : "f"},
          copy_text_or_null(page.title),
          copy_text_or_null(page.sha256),
          CopyField{std::to_string(page.elapsed_ms)},
          copy_text_or_null(page.error),
          CopyField{jobs::format_time(row.fetched_at)}};
}

std::string column_list() {
  std::string list;
  for (const auto& column : page_columns) list += (list.empty() ? "" : ", ") + column;
  return list;
}

const std::string pages_insert = "insert into crawl_pages (" + column_list() + ") values ";
const char* pages_conflict = " on conflict (job_id, url) do nothing";

// The same fields as COPY's, as SQL literals (PostgreSQL casts each quoted
// literal to its column's type).
std::string page_values(pqxx::transaction_base& tx, const PageRow& row) {
  std::string sql = "(";
  for (const auto& field : page_fields(row)) {
    if (sql.size() > 1) sql += ", ";
    sql += field.null ? std::string("null") : tx.quote(field.text);
  }
  return sql + ")";
}

template <class Row, class Values>
std::size_t insert_rows(pqxx::transaction_base& tx, const std::vector<Row>& rows, std::string_view head,
                        std::string_view tail, Values values) {
  std::size_t affected = 0;
  for (std::size_t start = 0; start < rows.size(); start += rows_per_statement) {
    std::string sql(head);
    std::size_t end = std::min(rows.size(), start + rows_per_statement);
    for (std::size_t i = start; i < end; ++i) {
      if (i != start) sql += ", ";
      sql += values(tx, rows[i]);
    }
    sql += tail;
    affected += tx.exec(sql).affected_rows();
  }
  return affected;
}

// Page rows go in by COPY: PostgreSQL spends about half the time per row
// that it spends on a multi-row INSERT (no statement text to parse and
// plan). COPY cannot skip rows that are already there, so a batch retried
// after a commit whose answer was lost fails on the unique key, inside a
// savepoint; it is then inserted again with ON CONFLICT DO NOTHING.
std::size_t copy_pages(pqxx::work& tx, const std::vector<PageRow>& pages) {
  if (pages.empty()) return 0;
  try {
    pqxx::subtransaction copy(tx, "pages");
    pqxx::stream_to stream(copy, "crawl_pages", page_columns);
    for (const auto& row : pages) stream << page_fields(row);
    stream.complete();
    copy.commit();
    return pages.size();
  } catch (const pqxx::unique_violation&) {
  }
  return insert_rows(tx, pages, pages_insert, pages_conflict, page_values);
}

BatchResult write_fast(pqxx::connection& connection, const Batch& batch) {
  BatchResult result;
  pqxx::work tx(connection);
  // Job rows first: events and pages refer to them.
  insert_rows(tx, batch.jobs, jobs_insert, jobs_conflict, job_values);
  insert_rows(tx, batch.events, events_insert, "", event_values);
  result.pages_inserted = copy_pages(tx, batch.pages);
  tx.commit();
  return result;
}

// Runs `sql` in a savepoint; a permanent error is reported and skipped,
// a transient one is thrown (the whole batch is retried later).
bool try_row(pqxx::dbtransaction& tx, const std::string& sql, RejectedRow rejected, BatchResult& result,
             std::size_t* affected = nullptr) {
  try {
    pqxx::subtransaction row(tx, "row");
    auto r = row.exec(sql);
    row.commit();
    if (affected != nullptr) *affected += r.affected_rows();
    return true;
  } catch (const std::exception& error) {
    if (is_transient(error)) throw;
    rejected.error = short_message(error);
    result.rejected.push_back(std::move(rejected));
    return false;
  }
}

// The slow path after bad data failed the whole batch: every row in its own
// savepoint, rejected rows recorded as events of their job.
BatchResult write_row_by_row(pqxx::connection& connection, const Batch& batch) {
  BatchResult result;
  result.row_by_row = true;
  pqxx::work tx(connection);
  for (const auto& job : batch.jobs) {
    try_row(tx, jobs_insert + job_values(tx, job) + jobs_conflict, {job.id, "job", {}}, result);
  }
  for (const auto& event : batch.events) {
    try_row(tx, events_insert + event_values(tx, event), {event.job_id, "event", {}}, result);
  }
  for (const auto& page : batch.pages) {
    try_row(tx, pages_insert + page_values(tx, page) + pages_conflict,
            {page.job_id, "page " + sanitize_text(page.page.url.substr(0, 200)), {}}, result, &result.pages_inserted);
  }
  // The job's own log says which rows were not recorded and why.
  for (const auto& rejected : result.rejected) {
    EventRow event{rejected.job_id, jobs::Clock::now(), "error",
                   "not recorded in the database: " + rejected.what + ": " + rejected.error};
    BatchResult ignored;
    try_row(tx, events_insert + event_values(tx, event), {rejected.job_id, "event", {}}, ignored);
  }
  tx.commit();
  return result;
}

}  // namespace

BatchResult write_batch(pqxx::connection& connection, const Batch& batch) {
  try {
    return write_fast(connection, batch);
  } catch (const std::exception& error) {
    if (is_transient(error)) throw;
  }
  return write_row_by_row(connection, batch);
}

std::string sql_text(pqxx::transaction_base& tx, std::string_view text) { return tx.quote(sanitize_text(text)); }

std::string sql_text_or_null(pqxx::transaction_base& tx, std::string_view text) {
  return text.empty() ? std::string("null") : sql_text(tx, text);
}

std::string sql_time(pqxx::transaction_base& tx, jobs::Clock::time_point when) {
  return "'" + jobs::format_time(when) + "'::timestamptz";
}

std::string sql_time_or_null(pqxx::transaction_base& tx, const std::optional<jobs::Clock::time_point>& when) {
  return when ? sql_time(tx, *when) : std::string("null");
}

}  // namespace crawld::store
