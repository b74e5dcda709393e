// One HTTP connection's state, shared by the server's session (server.cpp),
// the request reader (request_reader.cpp) and a streamed response body
// (connection.cpp). Internal to src/http.
#pragma once

#include "crawld/http/server.hpp"
#include "crawld/http/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace crawld::http {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// One open connection. The session coroutine owns the socket's I/O; a timer
// beside it enforces `deadline`. Moving the deadline is a store, not a
// timer operation: the timer wakes at the deadline or after `check_every`
// (the shortest configured timeout), whichever is first, and looks again.
// Every deadline the session sets lies at least `check_every` ahead, so the
// timer is never armed past it.
struct Connection {
  Connection(boost::asio::ip::tcp::socket s, std::chrono::milliseconds every)
      : socket(std::move(s)), timer(socket.get_executor()), check_every(every) {}

  boost::asio::ip::tcp::socket socket;
  boost::asio::steady_timer timer;
  std::chrono::milliseconds check_every;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool idle = false;
  bool open = true;
  std::string head;  // the serialized response header, reused per response

  void expire_after(std::chrono::milliseconds limit) { deadline = std::chrono::steady_clock::now() + limit; }
  void no_deadline() { deadline = std::chrono::steady_clock::time_point::max(); }
};

// Arms the connection's timer; past the deadline it cancels the pending
// read or write, which then ends the session.
void watch(const std::shared_ptr<Connection>& connection);

// The body of one streamed response (stream.hpp), on its connection. Text
// is framed (a chunk each on HTTP/1.1), queued, and written one batch at a
// time behind the producer; the session's read beside it notices the
// client leaving. Ends by end(): the terminating chunk is written, then the
// read is cancelled so that the session closes the connection.
class ConnectionStream final : public Stream, public std::enable_shared_from_this<ConnectionStream> {
 public:
  ConnectionStream(std::shared_ptr<Connection> connection, bool chunked, const ServerConfig& config);

  // The response head goes first, unframed.
  void send_head(std::string_view head);

  bool send(std::string_view text) override;
  bool closed() const override { return closed_; }
  boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline) override;
  void wake() override;
  std::chrono::steady_clock::time_point last_sent() const override { return last_sent_; }

  // No more text: the producer returned, or the server is stopping. What is
  // queued is still written, then the terminating chunk.
  void close();
  // The producer returned: end the body once what is queued is written.
  void end();
  // The client left (the read failed) or cannot be written to: nothing
  // more is written.
  void broken();

  // Nothing more will be written: the body ended and went out, or the
  // client is gone.
  bool over() const { return broken_ || (ended_ && !writing_ && pending_.empty()); }
  bool dropped() const { return dropped_; }
  std::size_t body_bytes() const { return body_bytes_; }
  void set_remote(std::string_view remote) { remote_ = remote; }

 private:
  void flush();
  // Ended and written: the session's read is cancelled, so that it closes.
  void finish_if_done();
  void cancel_read();

  std::shared_ptr<Connection> connection_;
  bool chunked_;
  std::size_t max_buffer_;
  std::chrono::milliseconds write_timeout_;
  boost::asio::steady_timer waker_;
  std::string pending_;
  std::string sending_;
  std::string remote_;
  std::size_t body_bytes_ = 0;
  std::chrono::steady_clock::time_point last_sent_ = std::chrono::steady_clock::now();
  bool woken_ = false;
  bool closed_ = false;
  bool ended_ = false;
  bool broken_ = false;
  bool dropped_ = false;
  bool writing_ = false;
};

}  // namespace crawld::http
