// The database thread pool (private to src/store: it exposes libpqxx).
//
// Blocking libpqxx calls never run on the loop. DbPool owns an
// asio::thread_pool; each of its threads keeps one pqxx::connection in
// thread-local storage, opened on first use and re-opened after a failure,
// no sooner than a capped, jittered exponential backoff allows (a database
// that is down is not hammered by every caller). Loop code awaits
//   co_await pool.run([](pqxx::connection& c) { ...; return value; });
// which runs the body on a pool thread and resumes the caller on its own
// executor with the value or the exception.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <exception>
#include <random>
#include <string>
#include <type_traits>

namespace crawld::store {

// Capped exponential backoff with full jitter: each delay is uniform in
// [initial, min(cap, initial * 2^n)].
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap);
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  unsigned attempt_ = 0;
  std::mt19937 random_;
};

// Errors that a later retry can fix: the connection was lost or refused, the
// server is starting or shutting down, a statement timed out, a
// serialization failure. Everything else is a problem with the statement or
// its data (SQLSTATE classes 22, 23, 42, 54, ...).
bool is_transient(const std::exception& error);
bool is_transient(std::exception_ptr error);

// First line of an error message, without libpq's "ERROR:  " prefix.
std::string short_message(const std::exception& error);
std::string short_message(std::exception_ptr error);

class DbPool {
 public:
  DbPool(std::string conninfo, unsigned threads, std::uint32_t statement_timeout_ms);
  ~DbPool();
  DbPool(const DbPool&) = delete;
  DbPool& operator=(const DbPool&) = delete;

  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

  // Runs body(connection) on a pool thread; the awaiting coroutine resumes
  // on its own executor.
  template <class F>
  auto run(F body) -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    static_assert(!std::is_void_v<R>, "return a value from the pool body");
    return boost::asio::co_spawn(
        pool_.get_executor(),
        [this, body = std::move(body)]() mutable -> boost::asio::awaitable<R> { co_return with_connection(body); },
        boost::asio::use_awaitable);
  }

  // Runs body(connection) on the calling thread, which must be a pool thread.
  // A kept connection may have died while idle (the server restarted): the
  // first use finds out, so the body runs once more on a fresh connection.
  // That is safe because nothing was committed (an in-doubt commit is not
  // retried here).
  template <class F>
  auto with_connection(F& body) -> std::invoke_result_t<F&, pqxx::connection&> {
    for (int attempt = 0;; ++attempt) {
      bool fresh = false;
      pqxx::connection& connection = this_thread_connection(fresh);
      try {
        return body(connection);
      } catch (const std::exception& error) {
        if (!is_connection_lost(connection, error)) throw;
        bool retry = !fresh && attempt == 0 && dynamic_cast<const pqxx::in_doubt_error*>(&error) == nullptr;
        drop_this_thread_connection(!retry);
        if (!retry) throw;
      }
    }
  }

  // Stops accepting work and waits for the running calls (each bounded by
  // statement_timeout) to end. Called by the destructor.
  void stop();

 private:
  pqxx::connection& this_thread_connection(bool& fresh);
  void drop_this_thread_connection(bool backoff);
  static bool is_connection_lost(const pqxx::connection& connection, const std::exception& error);

  std::string conninfo_;
  std::uint32_t statement_timeout_ms_;
  boost::asio::thread_pool pool_;
  bool stopped_ = false;
};

}  // namespace crawld::store
