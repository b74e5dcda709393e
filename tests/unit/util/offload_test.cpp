#include "crawld/util/offload.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <exception>
#include <optional>

namespace asio = boost::asio;

// The order that broke with co_spawn's own cancellation forwarding: the
// caller is cancelled after its task has finished but before the pool has
// handed the result back; the cancellation is forwarded to the pool behind
// the result, the caller resumes and finishes, and only then does the pool
// run the forwarded cancellation, which points into the caller's freed
// cancellation slot (a use-after-free the ASan build reports). Both sides
// are io_contexts run by hand here, so the order is exact.
TEST_CASE("a caller cancelled as its offloaded task finishes gets the result, and nothing follows on the pool",
          "[util]") {
  asio::io_context loop;
  asio::io_context pool;
  asio::cancellation_signal cancel;
  std::optional<int> result;
  std::exception_ptr error;
  auto caller = [&pool]() -> asio::awaitable<int> {
    auto task = []() -> asio::awaitable<int> { co_return 42; };
    co_return co_await crawld::util::offload(pool.get_executor(), task);
  };
  asio::co_spawn(loop, caller(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, int value) {
                   error = e;
                   result = value;
                 }));
  loop.poll();                   // the caller waits for its task
  CHECK(pool.poll_one() == 1);   // the task runs; handing back its result is queued on the pool
  cancel.emit(asio::cancellation_type::terminal);
  CHECK(pool.poll_one() == 1);   // the result goes to the loop
  loop.restart();
  loop.poll();                   // the caller resumes and finishes
  REQUIRE(result);
  CHECK(*result == 42);
  CHECK(!error);
  pool.restart();
  CHECK(pool.poll() == 0);       // no cancellation was forwarded to the finished task
}
