// A condition variable for the loop: coroutines wait until a predicate holds
// (or a deadline passes) and are woken by notify_all() from whoever changed
// what the predicate reads. No polling: a waiter sleeps on its own timer
// until it is notified or its deadline comes.
//
// Used on the loop only (no locks).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <list>

namespace crawld::util {

class Condition {
 public:
  explicit Condition(boost::asio::io_context& ioc) : ioc_(ioc) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  void notify_all() {
    for (auto* waiter : waiters_) waiter->cancel();
  }

  // Completes when `done()` holds (checked at once and after every
  // notification) or at `deadline`; returns done().
  template <class Predicate>
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline, Predicate done) {
    boost::asio::steady_timer timer(ioc_, deadline);
    // Listed while waiting, and unlisted however the wait ends (a cancelled
    // coroutine that throws included).
    struct Listed {
      std::list<boost::asio::steady_timer*>& waiters;
      std::list<boost::asio::steady_timer*>::iterator self;
      ~Listed() { waiters.erase(self); }
    } listed{waiters_, waiters_.insert(waiters_.end(), &timer)};
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      timer.expires_at(deadline);
    }
    co_return done();
  }

 private:
  boost::asio::io_context& ioc_;
  std::list<boost::asio::steady_timer*> waiters_;
};

}  // namespace crawld::util
