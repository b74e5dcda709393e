// Job rows as awaited commands: each one runs a prepared statement with its
// values as parameters on the store's pool, and the caller waits for its
// answer, at most its timeout (then the statement is cancelled with
// cancel_query and StoreUnavailable is thrown). This is what a caller uses
// when it must know a row is committed before it goes on (cluster mode's
// durable accept, claims); the write-behind batches are for the rest.
//
// It is also the service's JobHistory: jobs no longer in memory, and a
// job's pages and events.
#pragma once

#include "crawld/config.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/jobs/job_history.hpp"
#include "crawld/store/records.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace crawld::store {

class DbPool;
class DatabaseHealth;

class JobRepository final : public jobs::JobHistory {
 public:
  JobRepository(boost::asio::io_context& ioc, const DatabaseConfig& config, DbPool& pool,
                const DatabaseHealth& health);

  // Commands: committed when they return. Bounded by statement_timeout_ms.
  boost::asio::awaitable<void> insert(jobs::Job job);
  // State, stop reason, error, start and finish times. False when no such row.
  boost::asio::awaitable<bool> change_state(jobs::Job job);
  boost::asio::awaitable<bool> record_progress(std::string id, crawl::CrawlProgress progress);

  // Reads, bounded by read_timeout_ms. Newest first.
  boost::asio::awaitable<std::optional<jobs::Job>> find(std::string id) override;
  boost::asio::awaitable<std::vector<jobs::Job>> list(std::optional<jobs::JobState> state,
                                                      std::size_t limit) override;
  // Pages and events with id > after, oldest first.
  boost::asio::awaitable<std::vector<PageRecord>> pages(std::string job_id, std::int64_t after, std::size_t limit);
  boost::asio::awaitable<std::vector<EventRecord>> events(std::string job_id, std::int64_t after, std::size_t limit);

 private:
  boost::asio::io_context& ioc_;
  std::chrono::milliseconds read_timeout_;
  std::chrono::milliseconds command_timeout_;
  DbPool& pool_;
  const DatabaseHealth& health_;
};

}  // namespace crawld::store
