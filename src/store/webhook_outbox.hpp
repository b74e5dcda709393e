// The webhook outbox in PostgreSQL (private to src/store): deliveries are
// queued on the write-behind path, so each one is inserted in the batch
// that records its job's state change; claims lease due rows with
// FOR UPDATE SKIP LOCKED, so several instances share the sending.
#pragma once

#include "crawld/config.hpp"
#include "crawld/webhooks/outbox.hpp"
#include "db_pool.hpp"
#include "health.hpp"
#include "write_queue.hpp"

#include <boost/asio/io_context.hpp>

namespace crawld::store {

class DatabaseOutbox final : public webhooks::Outbox {
 public:
  DatabaseOutbox(boost::asio::io_context& ioc, const DatabaseConfig& config, DbPool& pool, WriteQueue& queue,
                 const DatabaseHealth& health)
      : ioc_(ioc), config_(config), pool_(pool), queue_(queue), health_(health) {}

  void add(const jobs::Job& job, webhooks::Delivery delivery) override;
  boost::asio::awaitable<std::vector<webhooks::Delivery>> claim(std::size_t n, std::set<std::string> urls,
                                                                std::chrono::milliseconds lease) override;
  boost::asio::awaitable<void> record(webhooks::DeliveryOutcome outcome) override;
  boost::asio::awaitable<std::vector<webhooks::DeliveryRecord>> list(std::string job_id, std::size_t limit) override;
  // A batch with deliveries was committed (the batch writer says so).
  void written() { added(); }

 private:
  boost::asio::io_context& ioc_;
  const DatabaseConfig& config_;
  DbPool& pool_;
  WriteQueue& queue_;
  const DatabaseHealth& health_;
};

}  // namespace crawld::store
