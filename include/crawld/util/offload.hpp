// Runs a coroutine on another executor (the compute pool, the database
// pool) and resumes the caller on its own executor with the result.
//
// The caller's cancellation is not passed on. Asio 1.81's co_spawn forwards
// a cancellation to another executor by posting a raw pointer to a signal
// that lives in the caller's cancellation slot; when the task finishes and
// the caller resumes before that post runs, the signal is gone and the pool
// thread writes to freed memory (a crawl cancelled just as one of its pages
// came back from analysis). What runs here is CPU work or one blocking call,
// which a cancellation could not stop anyway; the caller sees a cancellation
// at its next wait on its own executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace crawld::util {

// `where`: an executor or an execution context (a thread_pool).
template <class Where, class F>
auto offload(Where&& where, F task) {
  return boost::asio::co_spawn(std::forward<Where>(where), std::move(task),
                               boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                                                   boost::asio::use_awaitable));
}

}  // namespace crawld::util
