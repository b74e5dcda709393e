#include "crawld/store/notifications.hpp"
#include "crawld/store/text.hpp"
#include "db_pool.hpp"
#include "queries.hpp"
#include "statements.hpp"

#include <algorithm>
#include <array>
#include <set>

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

// Rows per statement: keeps each JSON parameter well below protocol limits.
constexpr std::size_t rows_per_statement = 500;

const std::array<std::string, 16> page_columns{
    "job_id", "url",    "final_url",  "depth", "status",     "content_type", "bytes",     "truncated",
    "title",  "sha256", "elapsed_ms", "error", "fetched_at", "attempt",      "canonical", "wire_bytes"};

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
          CopyField{jobs::format_time(row.fetched_at)},
          CopyField{std::to_string(row.attempt)},
          copy_text_or_null(page.canonical),
          CopyField{std::to_string(page.wire_bytes)}};
}

// Runs `statement` over `rows`, rows_per_statement at a time, each chunk as
// one JSON array parameter. Returns the rows affected.
template <class Row>
std::size_t insert_rows(pqxx::transaction_base& tx, const char* statement, const std::vector<Row>& rows) {
  std::size_t affected = 0;
  for (std::size_t start = 0; start < rows.size(); start += rows_per_statement) {
    std::size_t end = std::min(rows.size(), start + rows_per_statement);
    const Row* first = rows.data() + start;
    const Row* last = rows.data() + end;
    std::string json;
    if constexpr (std::is_same_v<Row, jobs::Job>) {
      json = jobs_json(first, last);
    } else if constexpr (std::is_same_v<Row, EventRow>) {
      json = events_json(first, last);
    } else if constexpr (std::is_same_v<Row, webhooks::Delivery>) {
      json = deliveries_json(first, last);
    } else {
      json = pages_json(first, last);
    }
    affected += tx.exec_prepared(statement, json).affected_rows();
  }
  return affected;
}

// Page rows go in by COPY: PostgreSQL spends about half the time per row
// that it spends on a multi-row INSERT. COPY cannot skip rows that are
// already there, so a batch retried after a commit whose answer was lost
// fails on the unique key, inside a savepoint; it is then inserted again
// with ON CONFLICT DO NOTHING.
//
// Not in cluster mode: there the batch holds its jobs' row locks, and a
// server session in COPY waits for the rest of the data however long it
// takes (idle_in_transaction_session_timeout does not apply, and a
// statement_timeout that passed is acted on only once more data arrives).
// An owner stopped in the middle of a COPY (SIGSTOP, a frozen VM) would
// keep its jobs from being rescued for as long as it stays stopped. An
// INSERT arrives whole: a stopped owner's session is then idle in its
// transaction, and the server ends it within idle_in_transaction_ms.
std::size_t write_pages(pqxx::work& tx, const Batch& batch) {
  const auto& pages = batch.pages;
  if (pages.empty()) return 0;
  if (!batch.owner.empty()) return insert_rows(tx, statements::insert_pages, pages);
  try {
    pqxx::subtransaction copy(tx, "pages");
    pqxx::stream_to stream(copy, "crawl_pages", page_columns);
    for (const auto& row : pages) stream << page_fields(row);
    stream.complete();
    copy.commit();
    return pages.size();
  } catch (const pqxx::unique_violation&) {
  }
  return insert_rows(tx, statements::insert_pages, pages);
}

// Cluster mode: keeps the rows of the attempts `batch.owner` still holds
// (owner, attempt, and a lease that has not run out). Those job rows stay
// locked until the transaction ends, taken in id order as the heartbeat
// takes them, so no rescue can take a job between this check and the commit.
std::set<std::pair<std::string, std::uint32_t>> lock_owned(pqxx::work& tx, const Batch& batch) {
  std::set<std::string> ids;
  for (const auto& job : batch.jobs) ids.insert(job.id);
  for (const auto& event : batch.events) ids.insert(event.job_id);
  for (const auto& page : batch.pages) ids.insert(page.job_id);
  for (const auto& delivery : batch.deliveries) ids.insert(delivery.job_id);
  std::set<std::pair<std::string, std::uint32_t>> owned;
  for (const auto& row : tx.exec_prepared(statements::lock_owned, array_literal(ids), batch.owner)) {
    owned.emplace(row[0].as<std::string>(), row[1].as<std::uint32_t>());
  }
  return owned;
}

Batch owned_rows(pqxx::work& tx, const Batch& batch, BatchResult& result) {
  auto owned = lock_owned(tx, batch);
  Batch kept;
  kept.owner = batch.owner;
  auto keep = [&](const auto& from, auto& to, auto id_of, auto attempt_of) {
    for (const auto& row : from) {
      if (owned.contains({id_of(row), attempt_of(row)})) {
        to.push_back(row);
      } else {
        ++result.fenced;
      }
    }
  };
  keep(
      batch.jobs, kept.jobs, [](const jobs::Job& j) { return j.id; }, [](const jobs::Job& j) { return j.attempt; });
  keep(
      batch.events, kept.events, [](const EventRow& e) { return e.job_id; },
      [](const EventRow& e) { return e.attempt; });
  keep(
      batch.pages, kept.pages, [](const PageRow& p) { return p.job_id; }, [](const PageRow& p) { return p.attempt; });
  keep(
      batch.deliveries, kept.deliveries, [](const webhooks::Delivery& d) { return d.job_id; },
      [](const webhooks::Delivery& d) { return d.job_attempt; });
  return kept;
}

// Cluster mode: a job that ended frees a slot on its instance (which knows
// that without being told) and may make a queued copy of its crawl eligible
// (jobs.on_duplicate: queue) anywhere.
void notify_ends(pqxx::work& tx, const Batch& batch) {
  if (batch.owner.empty()) return;
  bool ended =
      std::any_of(batch.jobs.begin(), batch.jobs.end(), [](const jobs::Job& j) { return jobs::is_terminal(j.state); });
  if (ended) tx.exec_params("select pg_notify('crawld_jobs', $1)", std::string(NotificationListener::ended_payload));
}

// Standalone: a job row is inserted or replaced. Cluster mode: the row was
// stored when the job was accepted and lock_owned holds it.
const char* jobs_statement(const Batch& batch) {
  return batch.owner.empty() ? statements::upsert_jobs : statements::update_jobs;
}

// The rows to write: all of them, or in cluster mode the owned ones.
const Batch& rows_to_write(pqxx::work& tx, const Batch& batch, Batch& owned, BatchResult& result) {
  if (batch.owner.empty()) return batch;
  find_jobs_by_key(tx);
  owned = owned_rows(tx, batch, result);
  return owned;
}

BatchResult write_fast(pqxx::connection& connection, const Batch& all) {
  BatchResult result;
  pqxx::work tx(connection);
  Batch owned;
  const Batch& batch = rows_to_write(tx, all, owned, result);
  // Job rows first: events and pages refer to them.
  insert_rows(tx, jobs_statement(batch), batch.jobs);
  insert_rows(tx, statements::insert_events, batch.events);
  insert_rows(tx, statements::insert_deliveries, batch.deliveries);
  result.pages_inserted = write_pages(tx, batch);
  notify_ends(tx, batch);
  tx.commit();
  return result;
}

// A savepoint in plain SQL. libpqxx 6.4's subtransaction does not roll
// back to its savepoint when a prepared or parameterized statement inside it
// fails (the transaction then stays aborted), so the row-by-row path sets
// its savepoints itself.
class Savepoint {
 public:
  explicit Savepoint(pqxx::dbtransaction& tx) : tx_(tx) { tx_.exec("savepoint crawld_row"); }
  ~Savepoint() {
    if (released_) return;
    try {
      tx_.exec("rollback to savepoint crawld_row");
    } catch (const std::exception&) {
      // The connection is gone: the whole transaction fails anyway.
    }
  }
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  void release() {
    tx_.exec("release savepoint crawld_row");
    released_ = true;
  }

 private:
  pqxx::dbtransaction& tx_;
  bool released_ = false;
};

// Runs one row in a savepoint; a permanent error is reported and skipped,
// a transient one is thrown (the whole batch is retried later).
template <class Row>
bool try_row(pqxx::dbtransaction& tx, const char* statement, const Row& row, RejectedRow rejected, BatchResult& result,
             std::size_t* affected = nullptr) {
  try {
    Savepoint savepoint(tx);
    auto r = tx.exec_prepared(statement, rows_json(row));
    savepoint.release();
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
BatchResult write_row_by_row(pqxx::connection& connection, const Batch& all) {
  BatchResult result;
  result.row_by_row = true;
  pqxx::work tx(connection);
  Batch owned;
  const Batch& batch = rows_to_write(tx, all, owned, result);
  for (const auto& job : batch.jobs) try_row(tx, jobs_statement(batch), job, {job.id, "job", {}}, result);
  for (const auto& event : batch.events) {
    try_row(tx, statements::insert_events, event, {event.job_id, "event", {}}, result);
  }
  for (const auto& delivery : batch.deliveries) {
    try_row(tx, statements::insert_deliveries, delivery, {delivery.job_id, "webhook delivery", {}}, result);
  }
  for (const auto& page : batch.pages) {
    try_row(tx, statements::insert_pages, page,
            {page.job_id, "page " + sanitize_text(page.page.url.substr(0, 200)), {}}, result, &result.pages_inserted);
  }
  // The job's own log says which rows were not recorded and why.
  for (const auto& rejected : result.rejected) {
    EventRow event{rejected.job_id, jobs::Clock::now(), "error",
                   "not recorded in the database: " + rejected.what + ": " + rejected.error};
    BatchResult ignored;
    try_row(tx, statements::insert_events, event, {rejected.job_id, "event", {}}, ignored);
  }
  notify_ends(tx, batch);
  tx.commit();
  return result;
}

}  // namespace

void find_jobs_by_key(pqxx::transaction_base& tx) { tx.exec("set local enable_seqscan = off"); }

BatchResult write_batch(pqxx::connection& connection, const Batch& batch) {
  try {
    return write_fast(connection, batch);
  } catch (const std::exception& error) {
    if (is_transient(error)) throw;
  }
  return write_row_by_row(connection, batch);
}

}  // namespace crawld::store
