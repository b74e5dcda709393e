// The write-behind writer (private to src/store): a coroutine on the loop
// that drains the WriteQueue in batches, one transaction each on the pool.
//
// A batch (at most batch_rows rows, or whatever waited flush_ms) leaves the
// queue only once committed: on a connection error it is kept and retried
// with backoff, so rows are neither lost nor duplicated. Rows the schema
// rejects are logged and recorded as job events; the rest land.
#pragma once

#include "crawld/store/store.hpp"
#include "crawld/util/condition.hpp"
#include "crawld/util/gate.hpp"
#include "db_pool.hpp"
#include "health.hpp"
#include "write_queue.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace crawld::store {

class BatchWriter {
 public:
  BatchWriter(boost::asio::io_context& ioc, const DatabaseConfig& config, DbPool& pool, WriteQueue& queue,
              DatabaseHealth& health);

  void on_batch(Store::BatchCallback callback) { on_batch_ = std::move(callback); }
  void on_end_written(Store::EndCallback callback) { on_end_written_ = std::move(callback); }
  void on_events_written(Store::EventsCallback callback) { on_events_written_ = std::move(callback); }
  void on_deliveries_written(std::function<void()> callback) { on_deliveries_written_ = std::move(callback); }

  // Starts the writer coroutine, counted in `gate` while it runs.
  void start(util::Gate& gate);
  // Something changed (rows queued, the database back or migrated): look now.
  void wake();
  // Waits until every queued row is committed or `timeout` passed (writing
  // at once, without waiting for flush_ms); true when nothing is left.
  boost::asio::awaitable<bool> flush(std::chrono::milliseconds timeout);
  void stop();

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> write_one();
  // When the next batch is due; time_point::max() while there is nothing to do.
  std::chrono::steady_clock::time_point next_due() const;

  const DatabaseConfig& config_;
  DbPool& pool_;
  WriteQueue& queue_;
  DatabaseHealth& health_;
  Store::BatchCallback on_batch_;
  Store::EndCallback on_end_written_;
  Store::EventsCallback on_events_written_;
  std::function<void()> on_deliveries_written_;
  boost::asio::steady_timer wake_;
  util::Condition written_;  // notified after every batch attempt (flush waits on it)
  Backoff backoff_{std::chrono::milliseconds(100), std::chrono::seconds(5)};
  std::chrono::steady_clock::time_point retry_at_{};
  bool in_flight_ = false;
  int flushers_ = 0;
  bool stopping_ = false;
};

}  // namespace crawld::store
