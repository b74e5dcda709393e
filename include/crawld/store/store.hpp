// Where jobs, pages and job events are recorded: PostgreSQL.
//
// Store is the only place the service talks to the database. It puts
// together:
//  - the write-behind path: as a JobObserver it queues job snapshots (on
//    create and change, progress at most once a second per job) and events,
//    and each crawl's PageSink queues its pages; a BatchWriter drains the
//    queue in batches (src/store/batch_writer, write_queue);
//  - the JobRepository: awaited, parameterized commands and reads, each with
//    its timeout (job_repository.hpp);
//  - the database's health: migrations, restart recovery and a liveness
//    check once a second (src/store/health).
//
// Everything public runs on the loop (the io_context passed in); the
// blocking libpqxx work happens on the store's own thread pool.
#pragma once

#include "crawld/config.hpp"
#include "crawld/crawl/page_result.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_observer.hpp"
#include "crawld/store/cluster_repository.hpp"
#include "crawld/store/job_repository.hpp"
#include "crawld/store/records.hpp"
#include "crawld/webhooks/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace crawld::store {

class Store : public jobs::JobObserver {
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
  // The claim statement has recorded it already.
  void job_adopted(const jobs::Job&) override {}
  void job_progress(const jobs::Job& job) override;
  void job_event(const jobs::Job& job, std::string_view level, const std::string& message) override;

  // The sink for one job's pages; writes nothing when the job was started
  // with log_to_db=false. Must not outlive the store.
  std::unique_ptr<crawl::PageSink> page_sink(const jobs::Job& job);

  // Commands and reads that the caller awaits.
  JobRepository& repository();
  // Webhook deliveries, written with the state changes they report.
  webhooks::Outbox& webhook_outbox();

  // Cluster mode (before start()): the shared queue's commands, writes
  // fenced by this instance's attempts, and no standalone restart recovery
  // (the cluster rescues this instance's old jobs instead).
  ClusterRepository& enable_cluster(const ClusterConfig& cluster);

  // Called on the loop after every batch attempt (for metrics).
  using BatchCallback = std::function<void(double seconds, std::size_t rows, bool ok)>;
  void on_batch(BatchCallback callback);
  // Cluster mode: a job's final snapshot was committed (fenced: or dropped,
  // when the attempt was no longer this instance's), after every row of
  // that attempt. Called on the loop.
  using EndCallback = std::function<void(const std::string& id, std::uint32_t attempt)>;
  void on_end_written(EndCallback callback);

  // A batch holding events of this job was committed (called on the loop,
  // at least once per job in the batch): live streams read them now.
  using EventsCallback = std::function<void(const std::string& job_id)>;
  void on_events_written(EventsCallback callback);
  // The job's events queued here and not committed yet.
  std::size_t pending_events(const std::string& job_id) const;
  // Waits until every page and event of the job queued here is committed,
  // or `timeout` passed; true when none waits. A finished job's rows are
  // read after this, so its lists are complete once its state is final.
  boost::asio::awaitable<bool> rows_written(const std::string& job_id, std::chrono::milliseconds timeout);

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
