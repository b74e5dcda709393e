#include "crawld/cluster/group_commit.hpp"

#include "crawld/util/unavailable.hpp"

#include <optional>

namespace crawld::cluster {

namespace asio = boost::asio;

namespace {
// Groups in flight at once: the repository's pool has two connections.
constexpr std::size_t max_committers = 2;
}  // namespace

struct GroupCommit::Pending {
  store::SubmitRow row;
  std::optional<store::SubmitAnswer> answer;
  std::exception_ptr error;
};

GroupCommit::GroupCommit(asio::io_context& ioc, store::ClusterRepository& repository, std::uint32_t max_queued,
                         std::chrono::milliseconds limit, std::function<void(asio::awaitable<void>)> spawn)
    : repository_(repository), max_queued_(max_queued), limit_(limit), spawn_(std::move(spawn)), committed_(ioc) {}

asio::awaitable<store::SubmitAnswer> GroupCommit::submit(store::SubmitRow row) {
  auto pending = std::make_shared<Pending>();
  pending->row = std::move(row);
  pending_.push_back(pending);
  if (committers_ < max_committers) {
    ++committers_;
    spawn_(commit_groups());
  }
  co_await committed_.wait_until(std::chrono::steady_clock::now() + limit_,
                                 [&] { return pending->answer || pending->error; });
  if (pending->error) std::rethrow_exception(pending->error);
  if (!pending->answer) throw util::Unavailable("database unavailable: the job could not be stored in time");
  co_return *pending->answer;
}

asio::awaitable<void> GroupCommit::commit_groups() {
  while (!pending_.empty()) {
    auto group = std::move(pending_);
    pending_.clear();
    std::vector<store::SubmitRow> rows;
    rows.reserve(group.size());
    for (const auto& p : group) rows.push_back(p->row);
    try {
      auto answers = co_await repository_.submit(std::move(rows), max_queued_);
      for (std::size_t i = 0; i < group.size(); ++i) group[i]->answer = answers.at(i);
    } catch (...) {
      for (auto& p : group) p->error = std::current_exception();
    }
    committed_.notify_all();
  }
  --committers_;
}

}  // namespace crawld::cluster
