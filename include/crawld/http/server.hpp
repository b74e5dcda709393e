// The HTTP/1.1 server: one coroutine per connection on the single io_context.
//
// It owns the listener, enforces the limits from ServerConfig (header and
// body size, time to receive a request, keep-alive idle time, open
// connections), turns protocol errors into problem+json answers, and hands
// well-formed requests to the router. Graceful stop is a gate: stop
// accepting, let in-flight requests finish, close idle connections.
#pragma once

#include "crawld/config.hpp"
#include "crawld/http/router.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace crawld::http {

// One finished request, for the access log and metrics.
struct RequestRecord {
  std::string_view method;
  std::string_view target;
  std::string_view route;  // the matched pattern, or "unmatched"
  int status = 0;
  std::size_t bytes = 0;
  double seconds = 0;
  std::string_view remote;
  std::chrono::steady_clock::time_point finished;  // when the answer was sent
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, ServerConfig config, const Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. Returns "ADDR:PORT" with the real port (port 0 picks
  // an ephemeral one). Throws boost::system::system_error.
  std::string listen();
  void start();

  // Closes the listener and idle keep-alive connections; connections with a
  // request in progress close after answering it.
  void stop_accepting();
  // Completes when every connection is closed, or after `limit` (then the
  // remaining ones are closed forcibly).
  boost::asio::awaitable<void> drain(std::chrono::milliseconds limit);

  std::size_t open_connections() const;
  // Event streams open now (counted in open_connections too).
  std::size_t open_streams() const;
  void on_request(std::function<void(const RequestRecord&)> observer);
  void set_filter(RequestFilter filter);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crawld::http
