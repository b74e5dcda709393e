#include "health.hpp"

#include <spdlog/spdlog.h>

namespace crawld::store {

namespace asio = boost::asio;
using namespace std::chrono_literals;

DatabaseHealth::DatabaseHealth(asio::io_context& ioc, DbPool& pool, std::string instance_id)
    : ioc_(ioc), pool_(pool), instance_id_(std::move(instance_id)), tick_(ioc) {}

void DatabaseHealth::on_change(std::function<std::string()> backlog, std::function<void()> ready,
                               std::function<void()> reachable) {
  backlog_ = std::move(backlog);
  ready_ = std::move(ready);
  reachable_ = std::move(reachable);
}

void DatabaseHealth::mark_down(const std::string& error) {
  state_.last_error = error;
  state_.last_error_at = jobs::Clock::now();
  if (state_.up || !down_logged_) {
    spdlog::warn("database unavailable: {} ({} waiting)", error, backlog_ ? backlog_() : std::string("nothing"));
    down_logged_ = true;
  }
  state_.up = false;
}

void DatabaseHealth::mark_up() {
  if (!state_.up && down_logged_) {
    spdlog::info("database reachable again ({} waiting)", backlog_ ? backlog_() : std::string("nothing"));
  }
  down_logged_ = false;
  state_.up = true;
  if (reachable_) reachable_();
}

void DatabaseHealth::require_ready() const {
  if (state_.refused) throw StoreUnavailable("database unavailable: " + state_.last_error);
  if (!state_.migrated) {
    throw StoreUnavailable("database unavailable: " +
                           (state_.last_error.empty() ? std::string("not connected yet") : state_.last_error));
  }
}

void DatabaseHealth::start(util::Gate& gate) {
  gate.enter();
  asio::co_spawn(ioc_, maintain(), [&gate](std::exception_ptr) { gate.leave(); });
}

void DatabaseHealth::stop() {
  stopping_ = true;
  tick_.cancel();
}

asio::awaitable<void> DatabaseHealth::maintain() {
  Backoff backoff(200ms, 5s);
  while (!stopping_) {
    std::chrono::milliseconds next = 1s;
    if (state_.refused) {
      next = 60s;
    } else if (!state_.migrated) {
      next = co_await prepare(backoff);
    } else {
      co_await check();
    }
    if (stopping_) break;  // close() came while the database was asked
    tick_.expires_after(next);
    co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// Migrates and recovers; returns when to look again.
asio::awaitable<std::chrono::milliseconds> DatabaseHealth::prepare(Backoff& backoff) {
  auto body = [this](pqxx::connection& c) {
    Prepared p{apply_migrations(c), {}};
    if (!p.migration.refused && recover_) p.recovered = recover_interrupted(c, instance_id_, started_at_);
    return p;
  };
  std::exception_ptr error;
  Prepared result;
  try {
    result = co_await pool_.run(std::move(body));
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    mark_down(short_message(error));
    co_return backoff.next();
  }
  prepared(result);
  co_return 1s;
}

// Health check: notices an outage (and the way back) even when nothing is
// being written. Once a second: /readyz should notice an outage promptly.
asio::awaitable<void> DatabaseHealth::check() {
  auto body = [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("select 1");
    return true;
  };
  std::exception_ptr error;
  try {
    co_await pool_.run(std::move(body));
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    mark_down(short_message(error));
  } else {
    mark_up();
  }
}

void DatabaseHealth::prepared(const Prepared& result) {
  const auto& migration = result.migration;
  state_.schema_version = migration.after;
  if (migration.refused) {
    // Writes stay queued (bounded by back-pressure) and /readyz says why.
    state_.refused = true;
    state_.up = true;
    state_.last_error = migration.message;
    state_.last_error_at = jobs::Clock::now();
    spdlog::error("database refused: {}", migration.message);
    return;
  }
  spdlog::info("{}", migration.message);
  for (const auto& job : result.recovered) {
    spdlog::warn("job {} was {} when this instance ({}) last stopped: marked interrupted", job.id, job.previous_state,
                 instance_id_);
  }
  state_.migrated = true;
  mark_up();
  if (ready_) ready_();
}

}  // namespace crawld::store
