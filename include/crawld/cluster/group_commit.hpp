// Durable accept in groups (cluster mode): each POST /start waits for the
// commit of the group it joined, and whatever arrives while a group is
// being committed goes in the next one, so concurrent requests share
// transactions instead of queueing for one each. Two groups may be in
// flight at once (the repository's pool has two connections): while one
// waits for its commit the next is already sent, instead of waiting its
// turn. On the loop.
#pragma once

#include "crawld/store/cluster_repository.hpp"
#include "crawld/util/condition.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace crawld::cluster {

class GroupCommit {
 public:
  // `spawn` starts the coroutine that commits groups (the owner counts it);
  // `limit` bounds a submission's wait, the group ahead of it included.
  GroupCommit(boost::asio::io_context& ioc, store::ClusterRepository& repository, std::uint32_t max_queued,
              std::chrono::milliseconds limit, std::function<void(boost::asio::awaitable<void>)> spawn);

  // The database's answer for this row once its group is committed. Throws
  // util::Unavailable when it cannot say within the limit.
  boost::asio::awaitable<store::SubmitAnswer> submit(store::SubmitRow row);

 private:
  struct Pending;
  boost::asio::awaitable<void> commit_groups();

  store::ClusterRepository& repository_;
  std::uint32_t max_queued_;
  std::chrono::milliseconds limit_;
  std::function<void(boost::asio::awaitable<void>)> spawn_;
  std::vector<std::shared_ptr<Pending>> pending_;
  std::size_t committers_ = 0;
  util::Condition committed_;
};

}  // namespace crawld::cluster
