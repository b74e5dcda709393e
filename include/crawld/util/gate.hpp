// A gate for graceful stop, as Seastar's: work in flight enters and leaves
// it; whoever stops waits until the count reaches zero (or a deadline), and
// is woken by the last one to leave instead of sleeping and looking again.
//
// Used on the loop only (no locks). The waiters' timers are the only thing
// armed while waiting, so an idle gate keeps nothing alive on the loop.
#pragma once

#include "crawld/util/condition.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>

namespace crawld::util {

class Gate {
 public:
  explicit Gate(boost::asio::io_context& ioc) : empty_(ioc) {}
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  void enter() { ++count_; }
  // The last one out wakes every waiter.
  void leave() {
    if (count_ > 0) --count_;
    if (count_ == 0) empty_.notify_all();
  }
  std::size_t count() const { return count_; }

  // Completes when the count is zero, or at `deadline`; true when it is zero.
  boost::asio::awaitable<bool> wait(std::chrono::steady_clock::time_point deadline) {
    return empty_.wait_until(deadline, [this] { return count_ == 0; });
  }
  boost::asio::awaitable<bool> wait(std::chrono::milliseconds limit) {
    return wait(std::chrono::steady_clock::now() + limit);
  }

  // Enters on construction, leaves on destruction (one coroutine's stay).
  class Holder {
   public:
    explicit Holder(Gate& gate) : gate_(&gate) { gate_->enter(); }
    ~Holder() {
      if (gate_ != nullptr) gate_->leave();
    }
    Holder(Holder&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    Holder& operator=(Holder&&) = delete;

   private:
    Gate* gate_;
  };

 private:
  Condition empty_;
  std::size_t count_ = 0;
};

}  // namespace crawld::util
