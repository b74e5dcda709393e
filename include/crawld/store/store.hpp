// Where jobs, pages and job events are recorded: PostgreSQL.
//
// Store is the only place the service talks to the database. It
//  - observes the JobService (job rows upserted on create and change,
//    progress at most once a second per job, events appended);
//  - hands each crawl a PageSink whose rows it writes in batches;
//  - migrates the schema and marks this instance's stale jobs interrupted as
//    soon as the database is reachable (at start-up or later);
//  - answers the API's reads, each bounded by database.read_timeout_ms.
//
// Writes go into one in-memory queue on the loop, drained by a writer
// coroutine: a batch (at most batch_rows rows, or whatever waited flush_ms)
// is one transaction on the pool — job rows first (foreign keys), then
// events, then pages with ON CONFLICT (job_id, url) DO NOTHING. A batch
// leaves the queue only once committed: on a connection error it is kept and
// retried with backoff, so rows are neither lost nor duplicated. A row the
// schema rejects is logged and recorded as a job event; the rest land. When
// the page backlog reaches max_backlog_rows, PageSink::on_page waits, which
// pauses the crawl instead of dropping rows.
//
// Everything public runs on the loop (the io_context passed in); the
// blocking libpqxx work happens on the store's own thread pool.
#pragma once

#include "crawld/config.hpp"
#include "crawld/crawl/page_result.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_history.hpp"
#include "crawld/jobs/job_observer.hpp"
#include "crawld/util/unavailable.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace crawld::store {

// The database could not answer (down, unreachable, too slow, schema
// refused). The API turns it into 503.
class StoreUnavailable : public util::Unavailable {
 public:
  using util::Unavailable::Unavailable;
};

// A page row as read back.
struct PageRecord {
  std::int64_t id = 0;
  std::string job_id;
  crawl::PageResult page;
  jobs::Clock::time_point fetched_at{};
};

// A job event as read back.
struct EventRecord {
  std::int64_t id = 0;
  std::string job_id;
  jobs::Clock::time_point at{};
  std::string level;
  std::string message;
};

// For /readyz and /status.
struct DatabaseStatus {
  bool up = false;        // the last contact succeeded
  bool migrated = false;  // schema is current (writes may flow)
  bool refused = false;   // schema newer than this binary: writes are held
  int schema_version = 0;
  std::string last_error;  // empty when none; never contains a password
  std::optional<jobs::Clock::time_point> last_error_at;
  std::size_t backlog_pages = 0;
  std::size_t backlog_events = 0;
  std::size_t backlog_jobs = 0;
  std::uint64_t pages_written = 0;
  std::uint64_t rows_rejected = 0;

  bool ready() const { return up && migrated && !refused; }
};

class Store : public jobs::JobObserver, public jobs::JobHistory {
 public:
  Store(boost::asio::io_context& ioc, DatabaseConfig config, std::string instance_id);
  ~Store() override;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Starts migrating (retrying until the database is reachable), the writer
  // and the health check. Returns at once.
  void start();

  // Waits until every queued row is committed or `timeout` passed; true when
  // nothing is left.
  boost::asio::awaitable<bool> flush(std::chrono::milliseconds timeout);
  // Graceful stop: flush within `timeout`, then stop the background
  // coroutines. Rows still queued afterwards are logged as lost.
  boost::asio::awaitable<void> close(std::chrono::milliseconds timeout);

  // JobObserver (on the loop, never blocks).
  void job_created(const jobs::Job& job) override;
  void job_changed(const jobs::Job& job) override;
  void job_progress(const jobs::Job& job) override;
  void job_event(const jobs::Job& job, std::string_view level, const std::string& message) override;

  // The sink for one job's pages; writes nothing when the job was started
  // with log_to_db=false. Must not outlive the store.
  std::unique_ptr<crawl::PageSink> page_sink(const jobs::Job& job);

  // Reads; throw StoreUnavailable when the database does not answer within
  // read_timeout_ms. Newest first.
  boost::asio::awaitable<std::vector<jobs::Job>> list(std::optional<jobs::JobState> state, std::size_t limit) override;
  boost::asio::awaitable<std::optional<jobs::Job>> find(std::string id) override;
  // Pages with id > after, oldest first.
  boost::asio::awaitable<std::vector<PageRecord>> pages(std::string job_id, std::int64_t after, std::size_t limit);
  boost::asio::awaitable<std::vector<EventRecord>> events(std::string job_id, std::int64_t after, std::size_t limit);

  // Called on the loop after every batch attempt (for metrics).
  using BatchCallback = std::function<void(double seconds, std::size_t rows, bool ok)>;
  void on_batch(BatchCallback callback);

  DatabaseStatus status() const;
  // True while the job rows and events waiting to be written reach
  // database.max_backlog_rows: POST /start then refuses new jobs (page rows
  // have their own back-pressure, which pauses the crawls).
  bool backlog_full() const;
  const std::string& instance_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crawld::store
