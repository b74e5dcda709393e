// The database's state as the service sees it (private to src/store): up or
// down, migrated, refused (a schema newer than this binary), the last error.
//
// Its maintenance coroutine migrates the schema and marks this instance's
// stale jobs interrupted as soon as the database is reachable (at start-up
// or later), then checks the connection once a second so that /readyz
// notices an outage, and the way back, even when nothing is written.
#pragma once

#include "crawld/store/store.hpp"
#include "crawld/util/gate.hpp"
#include "db_pool.hpp"
#include "queries.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <string>

namespace crawld::store {

class DatabaseHealth {
 public:
  DatabaseHealth(boost::asio::io_context& ioc, DbPool& pool, std::string instance_id);

  // `backlog` describes what waits to be written (for the log); `ready`
  // runs once the schema is current; `reachable` whenever the database
  // answers again after an error.
  void on_change(std::function<std::string()> backlog, std::function<void()> ready, std::function<void()> reachable);

  // Starts the maintenance coroutine, counted in `gate` while it runs.
  void start(util::Gate& gate);
  void stop();

  void mark_down(const std::string& error);
  void mark_up();
  // Throws StoreUnavailable unless reads and writes may flow.
  void require_ready() const;

  const DatabaseStatus& status() const { return state_; }
  bool migrated() const { return state_.migrated; }
  const std::string& instance_id() const { return instance_id_; }
  // Cluster mode: this instance's old jobs are rescued, not marked interrupted.
  void skip_recovery() { recover_ = false; }
  void count_written(std::size_t pages) { state_.pages_written += pages; }
  void count_rejected() { ++state_.rows_rejected; }
  void count_fenced(std::size_t rows) { state_.rows_fenced += rows; }

 private:
  struct Prepared {
    MigrationOutcome migration;
    std::vector<RecoveredJob> recovered;
  };
  boost::asio::awaitable<void> maintain();
  boost::asio::awaitable<std::chrono::milliseconds> prepare(Backoff& backoff);
  boost::asio::awaitable<void> check();
  void prepared(const Prepared& result);

  boost::asio::io_context& ioc_;
  DbPool& pool_;
  std::string instance_id_;
  bool recover_ = true;
  const jobs::Clock::time_point started_at_ = jobs::Clock::now();
  DatabaseStatus state_;
  bool down_logged_ = false;
  bool stopping_ = false;
  boost::asio::steady_timer tick_;
  std::function<std::string()> backlog_;
  std::function<void()> ready_;
  std::function<void()> reachable_;
};

}  // namespace crawld::store
