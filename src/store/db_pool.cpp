#include "db_pool.hpp"

#include "statements.hpp"

#include "crawld/store/conninfo.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace crawld::store {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
    : initial_(initial), cap_(cap), random_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  auto ceiling = initial_;
  for (unsigned i = 0; i < attempt_ && ceiling < cap_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap_);
  ++attempt_;
  std::uniform_int_distribution<long long> pick(initial_.count(), std::max(initial_.count(), ceiling.count()));
  return std::chrono::milliseconds(pick(random_));
}

bool is_transient(const std::exception& error) {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    const std::string& state = sql->sqlstate();
    // No SQLSTATE: libpq lost the server in the middle of the statement.
    if (state.size() != 5) return true;
    std::string_view cls(state.data(), 2);
    return cls == "08" || cls == "40" || cls == "53" || cls == "57" || cls == "58";
  }
  // in_doubt_error, "lost connection" failures and the like.
  return dynamic_cast<const pqxx::failure*>(&error) != nullptr &&
         dynamic_cast<const pqxx::usage_error*>(&error) == nullptr &&
         dynamic_cast<const pqxx::conversion_error*>(&error) == nullptr &&
         dynamic_cast<const pqxx::range_error*>(&error) == nullptr;
}

bool is_transient(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return is_transient(e);
  } catch (...) {
    return false;
  }
}

std::string short_message(const std::exception& error) {
  std::string text = error.what();
  if (auto newline = text.find('\n'); newline != std::string::npos) text.resize(newline);
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (text.starts_with(prefix)) text.erase(0, prefix.size());
  }
  return text;
}

std::string short_message(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return short_message(e);
  } catch (...) {
    return "unknown error";
  }
}

namespace {

// The connection of the current pool thread. A thread belongs to exactly one
// DbPool, so `owner` is only a guard.
struct ThreadConnection {
  const DbPool* owner = nullptr;
  std::unique_ptr<pqxx::connection> connection;
  Steady::time_point retry_at{};
  std::string last_error;
  Backoff backoff{100ms, 5s};
  bool poisoned = false;  // drop the connection once the running body is done
};

ThreadConnection& thread_connection() {
  thread_local ThreadConnection state;
  return state;
}

}  // namespace

DbPool::DbPool(std::string conninfo, unsigned threads, std::uint32_t statement_timeout_ms)
    : conninfo_(with_connect_timeout(conninfo, 5)),
      statement_timeout_ms_(statement_timeout_ms),
      idle_in_transaction_ms_(statement_timeout_ms),
      pool_(std::max(1u, threads)) {}

DbPool::~DbPool() { stop(); }

void DbPool::stop() {
  if (stopped_) return;
  stopped_ = true;
  pool_.stop();
  pool_.join();
}

pqxx::connection& DbPool::this_thread_connection(bool& fresh) {
  ThreadConnection& state = thread_connection();
  if (state.owner != this) {
    state = ThreadConnection{};
    state.owner = this;
  }
  if (state.connection && state.connection->is_open()) return *state.connection;
  state.connection.reset();
  auto now = Steady::now();
  if (now < state.retry_at) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(state.retry_at - now).count();
    throw pqxx::broken_connection("database unavailable (next connection attempt in " + std::to_string(wait) +
                                  " ms): " + state.last_error);
  }
  try {
    auto connection = std::make_unique<pqxx::connection>(conninfo_);
    pqxx::nontransaction setup(*connection);
    // Every statement of the service is bounded; a slow database only makes
    // the writers wait, never forever.
    setup.exec_params("select set_config('statement_timeout', $1, false)", std::to_string(statement_timeout_ms_));
    // A process stopped inside a transaction (SIGSTOP, a frozen VM) must not
    // hold its row locks for long: the server ends such a session.
    setup.exec_params("select set_config('idle_in_transaction_session_timeout', $1, false)",
                      std::to_string(idle_in_transaction_ms_.load()));
    setup.exec("set application_name = 'crawld'");
    setup.commit();
    statements::prepare_all(*connection);
    state.connection = std::move(connection);
    fresh = true;
    state.backoff.reset();
    state.retry_at = {};
    return *state.connection;
  } catch (const std::exception& error) {
    state.last_error = short_message(error);
    state.retry_at = Steady::now() + state.backoff.next();
    spdlog::debug("database connection failed: {}", state.last_error);
    throw pqxx::broken_connection(state.last_error);
  }
}

void DbPool::poison_this_thread_connection() { thread_connection().poisoned = true; }

void DbPool::drop_if_poisoned() {
  ThreadConnection& state = thread_connection();
  if (!state.poisoned) return;
  state.poisoned = false;
  state.connection.reset();  // the next call opens a fresh one, without waiting
}

void DbPool::drop_this_thread_connection(bool backoff) {
  ThreadConnection& state = thread_connection();
  state.poisoned = false;
  state.connection.reset();
  state.last_error = "connection lost";
  state.retry_at = backoff ? Steady::now() + state.backoff.next() : Steady::time_point{};
}

bool DbPool::is_connection_lost(const pqxx::connection& connection, const std::exception& error) {
  if (!connection.is_open()) return true;
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    const std::string& state = sql->sqlstate();
    return state.size() != 5 || state.starts_with("08") || state.starts_with("57P");
  }
  return false;
}

}  // namespace crawld::store
