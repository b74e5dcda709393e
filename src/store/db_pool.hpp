// The database thread pool (private to src/store: it exposes libpqxx).
//
// Blocking libpqxx calls never run on the loop. DbPool owns an
// asio::thread_pool; each of its threads keeps one pqxx::connection in
// thread-local storage, opened on first use and re-opened after a failure,
// no sooner than a capped, jittered exponential backoff allows (a database
// that is down is not hammered by every caller). Loop code awaits
//   co_await pool.run([](pqxx::connection& c) { ...; return value; });
// which runs the body on a pool thread and resumes the caller on its own
// executor with the value or the exception; run_bounded() does the same but
// gives up after a timeout and cancels the statement (cancel_query).
// Every connection gets the store's prepared statements (statements.hpp).
#pragma once

#include "crawld/store/records.hpp"
#include "crawld/util/offload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
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
  // How long the server lets a session sit idle inside a transaction
  // (default: statement_timeout). Applies to connections opened afterwards.
  void set_idle_in_transaction_timeout(std::uint32_t ms) { idle_in_transaction_ms_ = ms; }

  // Runs body(connection) on a pool thread; the awaiting coroutine resumes
  // on its own executor.
  template <class F>
  auto run(F body) -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    static_assert(!std::is_void_v<R>, "return a value from the pool body");
    return util::offload(pool_.get_executor(), [this, body = std::move(body)]() mutable -> boost::asio::awaitable<R> {
      co_return with_connection(body);
    });
  }

  // Runs body(connection) on a pool thread while the caller (on `ioc`, the
  // loop) waits at most `timeout`: then it stops waiting, throws
  // StoreUnavailable, and the statement still running is cancelled with
  // cancel_query() from a thread of its own (libpq's cancel request opens a
  // connection to the server, which must not block the loop). The late
  // answer, if any, is dropped. Other errors come back as they are, but the
  // ones a retry can fix (is_transient) become StoreUnavailable too.
  template <class F>
  auto run_bounded(boost::asio::io_context& ioc, F body, std::chrono::milliseconds timeout)
      -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>>;

  // The connection is gone (the error says so, or it is closed).
  static bool is_connection_lost(const pqxx::connection& connection, const std::exception& error);

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
        auto result = body(connection);
        drop_if_poisoned();
        return result;
      } catch (const std::exception& error) {
        if (!is_connection_lost(connection, error)) {
          drop_if_poisoned();
          throw;
        }
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
  // Marks this thread's connection for dropping once the running body is
  // done (a cancel request was sent on it); drop_if_poisoned does it.
  void poison_this_thread_connection();
  void drop_if_poisoned();
  std::string conninfo_;
  std::uint32_t statement_timeout_ms_;
  std::atomic<std::uint32_t> idle_in_transaction_ms_;
  boost::asio::thread_pool pool_;
  bool stopped_ = false;
};

// The statement of a bounded call, as the loop (giving up), the pool thread
// (running it) and the thread that cancels it see it.
struct CancelTarget {
  std::mutex mutex;
  pqxx::connection* running_on = nullptr;  // set while the body runs
  bool abandoned = false;                  // the caller gave up: do not start
  bool cancel_sent = false;                // the connection must not be reused

  // On the pool thread: false when the caller gave up before it started.
  bool attach(pqxx::connection& connection) {
    std::lock_guard<std::mutex> lock(mutex);
    if (abandoned) return false;
    running_on = &connection;
    return true;
  }
  // On the pool thread, when the body is done: true when a cancel request
  // went out for it (it may reach the server late, and hit the next one).
  bool detach() {
    std::lock_guard<std::mutex> lock(mutex);
    running_on = nullptr;
    return cancel_sent;
  }
  // On the loop: gives up; true when the statement is running (to cancel).
  bool abandon() {
    std::lock_guard<std::mutex> lock(mutex);
    abandoned = true;
    return running_on != nullptr;
  }
  // On a thread of its own. The mutex is held across cancel_query so that
  // the pool thread cannot let go of the connection meanwhile.
  void cancel() {
    std::lock_guard<std::mutex> lock(mutex);
    if (running_on == nullptr) return;
    cancel_sent = true;
    try {
      running_on->cancel_query();
    } catch (const std::exception&) {
      // The server is unreachable: statement_timeout ends the statement.
    }
  }
};

// What a bounded call's caller and its completion share (on the loop only).
template <class R>
struct BoundedCall {
  explicit BoundedCall(boost::asio::io_context& ioc) : done(ioc) {}
  boost::asio::steady_timer done;  // cancelled when the answer is in
  bool finished = false;
  std::exception_ptr error;
  R value{};
};

template <class F>
auto DbPool::run_bounded(boost::asio::io_context& ioc, F body, std::chrono::milliseconds timeout)
    -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
  namespace asio = boost::asio;
  using R = std::invoke_result_t<F&, pqxx::connection&>;
  auto call = std::make_shared<BoundedCall<R>>(ioc);
  auto target = std::make_shared<CancelTarget>();
  call->done.expires_after(timeout);
  auto tracked = [this, target, body = std::move(body)](pqxx::connection& connection) mutable {
    if (!target->attach(connection)) throw StoreUnavailable("database unavailable: the caller gave up waiting");
    struct Detach {
      DbPool& pool;
      CancelTarget& target;
      // A connection that had a cancel request sent is not used again.
      ~Detach() {
        if (target.detach()) pool.poison_this_thread_connection();
      }
    } detach{*this, *target};
    return body(connection);
  };
  asio::co_spawn(
      pool_.get_executor(),
      [this, tracked = std::move(tracked)]() mutable -> asio::awaitable<R> { co_return with_connection(tracked); },
      asio::bind_executor(ioc.get_executor(), [call](std::exception_ptr error, R value) {
        call->finished = true;
        call->error = error;
        call->value = std::move(value);
        call->done.cancel();
      }));
  co_await call->done.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!call->finished) {
    // Not started yet: it never will be. Running: cancelled on the server,
    // from a thread of its own, since libpq's cancel request connects to the
    // server and must not block the loop; the thread keeps only the target.
    if (target->abandon()) std::thread([target] { target->cancel(); }).detach();
    throw StoreUnavailable("database unavailable: no answer within " + std::to_string(timeout.count()) + " ms");
  }
  if (call->error) {
    if (!is_transient(call->error)) std::rethrow_exception(call->error);
    throw StoreUnavailable("database unavailable: " + short_message(call->error));
  }
  co_return std::move(call->value);
}

}  // namespace crawld::store
