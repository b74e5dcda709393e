// A response whose body is written while it is produced: Server-Sent Events.
//
// A handler returns a Response with `stream` set (message.hpp). The server
// sends the head (chunked on HTTP/1.1, close-delimited on HTTP/1.0), then
// runs the producer beside a read that notices the client leaving. The
// producer sends text as it comes and returns when it has nothing more; the
// server then ends the body cleanly and closes the connection.
//
// Sending never waits: text is queued and written behind the producer. A
// client whose unsent data passes server.max_stream_buffer_bytes, or whose
// write does not complete within server.request_timeout_ms, is dropped, so
// a reader that stops reading costs a bounded amount of memory. On graceful
// stop every stream is closed; the producer then returns and the body ends.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string_view>

namespace crawld::http {

class Stream {
 public:
  virtual ~Stream() = default;

  // Queues `text` (never waits). False once the stream is closed: the
  // client left or was dropped, or the server is stopping. The producer
  // should then return.
  virtual bool send(std::string_view text) = 0;
  virtual bool closed() const = 0;
  // Completes at `deadline`, at wake(), or when the stream closes. A wake()
  // while the producer is not waiting makes its next wait return at once, so
  // no wake-up is lost between two waits.
  virtual boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline) = 0;
  virtual void wake() = 0;
  // When text was last queued (for heartbeats).
  virtual std::chrono::steady_clock::time_point last_sent() const = 0;
};

using StreamProducer = std::function<boost::asio::awaitable<void>(Stream&)>;

}  // namespace crawld::http
