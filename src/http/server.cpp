#include "crawld/http/server.hpp"

#include "connection.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/util/condition.hpp"
#include "request_reader.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <list>
#include <vector>

namespace crawld::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

struct HttpServer::Impl {
  asio::io_context& ioc;
  ServerConfig config;
  const Router& router;
  tcp::acceptor acceptor;
  std::list<Connection*> connections;
  util::Condition closed{ioc};  // notified whenever a connection closes (the drain waits on it)
  bool stopping = false;
  std::function<void(const RequestRecord&)> observer;
  RequestFilter filter;
  std::list<ConnectionStream*> streams;  // the open event streams

  Impl(asio::io_context& io, ServerConfig cfg, const Router& r)
      : ioc(io), config(std::move(cfg)), router(r), acceptor(io) {}

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // Out of file descriptors or similar: back off briefly instead of spinning.
        spdlog::warn("accept failed: {}", ec.message());
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      if (connections.size() >= config.max_connections) {
        reject(socket);
        continue;
      }
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  // Past the connection limit: a short 503, written without waiting (a new
  // socket's send buffer holds it), then the connection closes. Nothing is
  // kept for it, so a flood cannot grow memory.
  void reject(tcp::socket& socket) {
    Response problem = problem_response(service_unavailable("too many open connections"), "/");
    std::string head;
    write_response_head(head, problem, 11, false);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(problem.payload())};
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(buffers, ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  // Returns false when the response could not be sent (the client is gone,
  // or did not read it within request_timeout_ms): the connection then ends.
  // The request is logged either way.
  asio::awaitable<bool> write_and_log(Connection& connection, const Response& response, unsigned version,
                                      bool keep_alive, bool head, const Request* request, std::string_view route,
                                      std::chrono::steady_clock::time_point started, const std::string& remote) {
    write_response_head(connection.head, response, version, keep_alive);
    bool bodiless = head || is_bodiless(response.status);
    auto body = response.payload();
    std::array<asio::const_buffer, 2> buffers{asio::buffer(connection.head),
                                              asio::buffer(body.data(), bodiless ? 0 : body.size())};
    connection.expire_after(std::chrono::milliseconds(config.request_timeout_ms));
    // The write waits for the handlers already queued on the loop (other
    // connections' requests that arrived in the same batch). Under load the
    // responses of a batch then leave back to back: a client that is
    // asleep is woken once for the batch, not once per response, and that
    // wake-up is what a loopback send costs most (30% more POST /start per
    // second at 32 connections). An idle loop runs the write at once.
    co_await asio::post(connection.socket.get_executor(), asio::use_awaitable);
    // A response usually fits in the socket's send buffer: it is written at
    // once (the socket is non-blocking), without an asynchronous operation
    // and the completion it would post. What does not fit follows
    // asynchronously.
    beast::error_code ec;
    std::size_t sent = connection.socket.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
    if (!ec && sent < asio::buffer_size(buffers)) {
      beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(buffers);
      rest.consume(sent);
      auto [write_ec, n] = co_await asio::async_write(connection.socket, rest, use_tuple);
      ec = write_ec;
    }
    connection.no_deadline();
    log_request(request, route, response.status, bodiless ? 0 : body.size(), started, remote);
    co_return !ec;
  }

  void log_request(const Request* request, std::string_view route, int status, std::size_t bytes,
                   std::chrono::steady_clock::time_point started, const std::string& remote) {
    if (!observer) return;
    RequestRecord record;
    record.method = request ? std::string_view(request->method) : std::string_view("-");
    record.target = request ? std::string_view(request->target) : std::string_view("-");
    record.route = route;
    record.status = status;
    record.bytes = bytes;
    record.finished = std::chrono::steady_clock::now();
    record.seconds = std::chrono::duration<double>(record.finished - started).count();
    record.remote = remote;
    observer(record);
  }

  static asio::awaitable<void> produce(std::shared_ptr<ConnectionStream> stream, StreamProducer producer) {
    co_await producer(*stream);
  }

  // A streamed answer (stream.hpp): the head, then the producer's text
  // until it returns, the client leaves, or the server stops. The request is
  // logged when the stream ends, with the body bytes it carried.
  asio::awaitable<void> stream_response(const std::shared_ptr<Connection>& connection, Response& response,
                                        unsigned version, const Request& request, std::string_view route,
                                        std::chrono::steady_clock::time_point started, const std::string& remote) {
    if (stopping || streams.size() >= config.max_streams) {
      auto error = service_unavailable(stopping ? std::string("the server is stopping")
                                                : "too many open event streams (server.max_streams is " +
                                                      std::to_string(config.max_streams) + "); retry later");
      error.with_header("Retry-After", "5");
      co_await write_and_log(*connection, problem_response(error, request.path), version, false, false, &request,
                             route, started, remote);
      co_return;
    }
    response.header("Cache-Control", "no-store").header("X-Accel-Buffering", "no");
    // The kernel's send buffer is bounded as the queue is: a client that
    // does not read has at most about that much waiting for it in each.
    boost::system::error_code ignored;
    connection->socket.set_option(
        asio::socket_base::send_buffer_size(static_cast<int>(std::min<std::size_t>(config.max_stream_buffer_bytes, 1 << 30))),
        ignored);
    auto stream = std::make_shared<ConnectionStream>(connection, version != 10, config);
    stream->set_remote(remote);
    write_response_head(connection->head, response, version, false);
    stream->send_head(connection->head);
    auto listed = streams.insert(streams.end(), stream.get());
    bool producing = true;
    util::Condition produced(ioc);
    asio::co_spawn(ioc, produce(stream, std::move(response.stream)),
                   [&producing, &produced, stream, remote](const std::exception_ptr& error) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         spdlog::warn("event stream to {} failed: {}", remote, e.what());
                       }
                     }
                     producing = false;
                     stream->end();
                     produced.notify_all();
                   });
    // The client sends nothing more; a read that fails says it left.
    std::array<char, 512> discard{};
    while (!stream->over()) {
      auto [ec, n] = co_await connection->socket.async_read_some(asio::buffer(discard), use_tuple);
      if (ec) break;
    }
    if (!stream->over()) stream->broken();
    co_await produced.wait_until(std::chrono::steady_clock::time_point::max(), [&producing] { return !producing; });
    streams.erase(listed);
    log_request(&request, route, 200, stream->body_bytes(), started, remote);
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::error_code ignored;
    std::string remote = socket.remote_endpoint(ignored).address().to_string();
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);  // for write_and_log's immediate write
    auto check_every = std::chrono::milliseconds(std::min(config.request_timeout_ms, config.idle_timeout_ms));
    auto connection = std::make_shared<Connection>(std::move(socket), check_every);
    auto self = connections.insert(connections.end(), connection.get());
    watch(connection);
    try {
      co_await serve(connection, remote);
    } catch (const std::exception& e) {
      spdlog::debug("connection from {} ended: {}", remote, e.what());
    }
    connection->open = false;
    connection->timer.cancel();
    connection->socket.shutdown(tcp::socket::shutdown_send, ignored);
    connection->socket.close(ignored);
    connections.erase(self);
    closed.notify_all();
  }

  // An answer sent before the request could be handled; the connection then
  // closes, lingering first (as nginx does) so that a client still sending
  // its request reads the answer instead of a reset.
  asio::awaitable<void> refuse(Connection& connection, const ApiError& error, std::string_view instance,
                               std::chrono::steady_clock::time_point started, const std::string& remote) {
    bool sent = co_await write_and_log(connection, problem_response(error, instance), 11, false, false, nullptr,
                                       "unmatched", started, remote);
    if (sent) co_await linger(connection);
  }

  // Half-closes, then reads and discards until the client closes too, or
  // server.linger_ms or linger_max_bytes is reached.
  asio::awaitable<void> linger(Connection& connection) {
    boost::system::error_code ignored;
    connection.socket.shutdown(tcp::socket::shutdown_send, ignored);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.linger_ms);
    connection.expire_after(std::chrono::milliseconds(config.linger_ms));
    std::array<char, std::size_t{16} * 1024> discard{};
    std::size_t discarded = 0;
    // The loop looks at the time itself too: a read that completed just as
    // the connection's timer fired is not cancelled, and would start the
    // next read without a deadline.
    while (discarded < config.linger_max_bytes && std::chrono::steady_clock::now() < until) {
      auto [ec, n] = co_await connection.socket.async_read_some(asio::buffer(discard), use_tuple);
      if (ec) break;  // the client closed, reset, or the deadline passed
      discarded += n;
    }
    connection.no_deadline();
  }

  asio::awaitable<void> serve(const std::shared_ptr<Connection>& shared, const std::string& remote) {
    Connection& connection = *shared;
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping) {
      // Between requests the keep-alive idle limit applies; from the first
      // byte on, the whole request must arrive within request_timeout_ms.
      if (!first && buffer.size() == 0) {
        // The client sends its next request only once it has read this
        // answer, so a read tried now would mostly find nothing (one recv
        // answering EAGAIN per request: Asio tries every read at once). The
        // read starts once the handlers already queued and a look at epoll
        // have run, which gives the request time to arrive.
        co_await asio::post(asio::use_awaitable);
        if (stopping) co_return;
        connection.idle = true;
        connection.expire_after(std::chrono::milliseconds(config.idle_timeout_ms));
        auto [ec, n] = co_await connection.socket.async_read_some(buffer.prepare(1024), use_tuple);
        connection.idle = false;
        if (ec) co_return;
        buffer.commit(n);
      }
      first = false;
      RequestParser parser;
      parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
      parser.body_limit(config.max_body_bytes);
      connection.expire_after(std::chrono::milliseconds(config.request_timeout_ms));
      auto started = std::chrono::steady_clock::now();
      parser.eager(true);
      beast::error_code ec;
      if (!parse_buffered(buffer, parser, ec)) ec = co_await read_request(connection.socket, buffer, parser);
      connection.no_deadline();
      // Timeouts, resets and end-of-stream close quietly; malformed input
      // gets an answer before the connection closes.
      if (ec) {
        if (is_parse_error(ec)) {
          co_await refuse(connection, parse_error_answer(ec, config), early_instance(parser, buffer), started, remote);
        }
        co_return;
      }
      auto& req = parser.get();
      if (auto why = framing_error(req); !why.empty()) {
        co_await refuse(connection, bad_request("malformed request: " + why), early_instance(parser, buffer), started,
                        remote);
        co_return;
      }
      bool keep_alive = req.keep_alive() && !stopping;
      unsigned version = req.version();
      bool head = req.method() == bhttp::verb::head;
      Request request = to_request(req, remote);
      std::string_view route;
      // A fixed answer (GET /healthz, GET /start) is sent as the router
      // holds it; others are awaited into `awaited`.
      auto resolved = router.resolve(request, route, &filter);
      const Response* response = resolved.fixed;
      Response awaited;
      if (response == nullptr) {
        if (resolved.answer) {
          awaited = std::move(*resolved.answer);
        } else {
          awaited = co_await Router::run(*resolved.handler, request);
        }
        response = &awaited;
      }
      if (awaited.stream) {
        if (!head) {
          co_await stream_response(shared, awaited, version, request, route, started, remote);
          co_return;
        }
        awaited.stream = nullptr;  // HEAD: the head a GET would get, and a close
        keep_alive = false;
      }
      keep_alive = keep_alive && !stopping;
      bool sent =
          co_await write_and_log(connection, *response, version, keep_alive, head, &request, route, started, remote);
      if (!sent || !keep_alive) co_return;
    }
  }
};

HttpServer::HttpServer(asio::io_context& ioc, ServerConfig config, const Router& router)
    : impl_(std::make_unique<Impl>(ioc, std::move(config), router)) {}

HttpServer::~HttpServer() = default;

std::string HttpServer::listen() {
  auto address = asio::ip::make_address(impl_->config.listen);
  tcp::endpoint endpoint(address, impl_->config.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  auto local = acceptor.local_endpoint();
  std::string host = local.address().to_string();
  if (local.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(local.port());
}

void HttpServer::start() { asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached); }

void HttpServer::stop_accepting() {
  impl_->stopping = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto* connection : impl_->connections) {
    if (connection->idle) connection->socket.cancel(ignored);
  }
  // Event streams end now: their producers return, and each body ends
  // cleanly once what is queued is written.
  for (auto* stream : impl_->streams) stream->close();
}

asio::awaitable<void> HttpServer::drain(std::chrono::milliseconds limit) {
  auto& connections = impl_->connections;
  co_await impl_->closed.wait_until(std::chrono::steady_clock::now() + limit,
                                    [&connections] { return connections.empty(); });
  beast::error_code ignored;
  for (auto* connection : impl_->connections) connection->socket.cancel(ignored);
}

std::size_t HttpServer::open_connections() const { return impl_->connections.size(); }

std::size_t HttpServer::open_streams() const { return impl_->streams.size(); }

void HttpServer::on_request(std::function<void(const RequestRecord&)> observer) {
  impl_->observer = std::move(observer);
}

void HttpServer::set_filter(RequestFilter filter) { impl_->filter = std::move(filter); }

}  // namespace crawld::http
