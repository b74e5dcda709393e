#include "crawld/http/server.hpp"

#include "crawld/http/problem.hpp"
#include "crawld/util/condition.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <array>
#include <list>
#include <vector>

namespace crawld::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Maps a parse error to the answer a client gets before the connection closes.
ApiError parse_error_answer(const boost::system::error_code& ec, const ServerConfig& config) {
  if (ec == bhttp::error::header_limit) {
    return header_fields_too_large("request header exceeds " + std::to_string(config.max_header_bytes) + " bytes");
  }
  if (ec == bhttp::error::body_limit) {
    return payload_too_large("request body exceeds " + std::to_string(config.max_body_bytes) + " bytes");
  }
  return bad_request("malformed request: " + ec.message());
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// Framing the parser accepts but RFC 9112 does not: an HTTP/1.1 request
// without a Host, or with two (section 3.2); a Transfer-Encoding in an
// HTTP/1.0 request (section 6.1), or one whose final coding is not chunked,
// or any coding besides chunked (none is supported). The parser reads such a
// request as if it had no body, so the body would be taken for the next
// request (request smuggling). Returns why, or empty when the framing is fine.
std::string framing_error(const bhttp::request<bhttp::string_body>& req) {
  std::vector<std::string> codings;
  for (const auto& field : req) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    for (auto coding : bhttp::token_list{field.value()}) codings.emplace_back(coding);
  }
  // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host.
  if (req.version() >= 11 && req.count(bhttp::field::host) != 1) {
    return req.count(bhttp::field::host) == 0 ? "an HTTP/1.1 request needs a Host header"
                                              : "more than one Host header";
  }
  if (codings.empty()) return {};
  if (req.version() < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
  if (codings.size() != 1 || !beast::iequals(codings.back(), "chunked")) {
    return "unsupported Transfer-Encoding: only \"chunked\" is accepted";
  }
  return {};
}

// One open connection. The session coroutine owns the socket's I/O; a timer
// beside it enforces `deadline`. Moving the deadline is a store, not a
// timer operation: the timer wakes at the deadline or after `check_every`
// (the shortest configured timeout), whichever is first, and looks again.
// Every deadline the session sets lies at least `check_every` ahead, so the
// timer is never armed past it.
struct Connection {
  Connection(tcp::socket s, std::chrono::milliseconds every)
      : socket(std::move(s)), timer(socket.get_executor()), check_every(every) {}

  tcp::socket socket;
  asio::steady_timer timer;
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
void watch(const std::shared_ptr<Connection>& connection) {
  auto now = std::chrono::steady_clock::now();
  connection->timer.expires_at(std::min(connection->deadline, now + connection->check_every));
  connection->timer.async_wait([connection](const boost::system::error_code& ec) {
    if (ec || !connection->open) return;
    if (std::chrono::steady_clock::now() >= connection->deadline) {
      connection->no_deadline();
      boost::system::error_code ignored;
      connection->socket.cancel(ignored);
    }
    watch(connection);
  });
}

// The body of one streamed response (stream.hpp), on its connection. Text
// is framed (a chunk each on HTTP/1.1), queued, and written one batch at a
// time behind the producer; the session's read beside it notices the
// client leaving. Ends by end(): the terminating chunk is written, then the
// read is cancelled so that the session closes the connection.
class ConnectionStream final : public Stream, public std::enable_shared_from_this<ConnectionStream> {
 public:
  ConnectionStream(std::shared_ptr<Connection> connection, bool chunked, const ServerConfig& config)
      : connection_(std::move(connection)),
        chunked_(chunked),
        max_buffer_(config.max_stream_buffer_bytes),
        write_timeout_(config.request_timeout_ms),
        waker_(connection_->socket.get_executor()) {}

  // The response head goes first, unframed.
  void send_head(std::string_view head) {
    pending_.append(head);
    flush();
  }

  bool send(std::string_view text) override {
    if (closed_) return false;
    if (text.empty()) return true;
    if (chunked_) {
      char digits[16];
      auto end = std::to_chars(std::begin(digits), std::end(digits), text.size(), 16).ptr;
      pending_.append(digits, end).append("\r\n");
    }
    pending_.append(text);
    if (chunked_) pending_.append("\r\n");
    body_bytes_ += text.size();
    last_sent_ = std::chrono::steady_clock::now();
    if (pending_.size() > max_buffer_) {
      dropped_ = true;
      spdlog::info("event stream to {} dropped: {} bytes unsent (server.max_stream_buffer_bytes {})", remote_,
                   pending_.size(), max_buffer_);
      broken();
      return false;
    }
    flush();
    return true;
  }

  bool closed() const override { return closed_; }

  boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline) override {
    if (!woken_ && !closed_) {
      waker_.expires_at(deadline);
      co_await waker_.async_wait(use_tuple);
    }
    woken_ = false;
  }

  void wake() override {
    woken_ = true;
    waker_.cancel();
  }

  std::chrono::steady_clock::time_point last_sent() const override { return last_sent_; }

  // No more text: the producer returned, or the server is stopping. What is
  // queued is still written, then the terminating chunk.
  void close() {
    if (closed_) return;
    closed_ = true;
    wake();
  }

  // The producer returned: end the body once what is queued is written.
  void end() {
    close();
    if (ended_) return;
    ended_ = true;
    if (chunked_ && !broken_) pending_.append("0\r\n\r\n");
    flush();
    finish_if_done();
  }

  // The client left (the read failed) or cannot be written to: nothing
  // more is written.
  void broken() {
    broken_ = true;
    pending_.clear();
    close();
    cancel_read();
  }

  // Nothing more will be written: the body ended and went out, or the
  // client is gone.
  bool over() const { return broken_ || (ended_ && !writing_ && pending_.empty()); }
  bool dropped() const { return dropped_; }
  std::size_t body_bytes() const { return body_bytes_; }
  void set_remote(std::string_view remote) { remote_ = remote; }

 private:
  void flush() {
    if (writing_ || pending_.empty() || broken_) return;
    writing_ = true;
    sending_.swap(pending_);
    pending_.clear();
    connection_->expire_after(write_timeout_);
    asio::async_write(connection_->socket, asio::buffer(sending_),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        self->writing_ = false;
                        self->connection_->no_deadline();
                        self->sending_.clear();
                        if (ec) {
                          self->broken();
                          return;
                        }
                        self->flush();
                        self->finish_if_done();
                      });
  }

  // Ended and written: the session's read is cancelled, so that it closes.
  void finish_if_done() {
    // (over() is what the session's read loop looks at.)
    if (ended_ && !writing_ && pending_.empty()) cancel_read();
  }

  void cancel_read() {
    boost::system::error_code ignored;
    connection_->socket.cancel(ignored);
  }

  std::shared_ptr<Connection> connection_;
  bool chunked_;
  std::size_t max_buffer_;
  std::chrono::milliseconds write_timeout_;
  asio::steady_timer waker_;
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

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// The path for the problem of a request answered before it was read whole
// (problem_instance). Beast fills in the target as soon as it has parsed the
// request line, also when a later check (a body over the limit) fails the
// request; else the request line is still in the bytes the parser could not
// use yet (a header over the limit).
std::string early_instance(const RequestParser& parser, const beast::flat_buffer& buffer) {
  return problem_instance(parser.get().target(),
                          std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()));
}

// Feeds what `buffer` holds to `parser`; true when that settles the request
// (complete, or an error in `ec`). Bytes past the request stay in `buffer`
// (pipelining).
bool parse_buffered(beast::flat_buffer& buffer, RequestParser& parser, beast::error_code& ec) {
  while (buffer.size() > 0) {
    std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
    } else if (ec) {
      return true;
    }
    if (parser.is_done()) return true;
    if (used == 0) break;
  }
  return false;
}

// Reads one request into `parser`, from what `buffer` already holds and then
// from the socket (serve() parses what is buffered first, without entering
// this coroutine).
asio::awaitable<beast::error_code> read_request(tcp::socket& socket, beast::flat_buffer& buffer,
                                                RequestParser& parser) {
  beast::error_code ec;
  for (;;) {
    if (parse_buffered(buffer, parser, ec)) co_return ec;
    auto [read_ec, n] = co_await socket.async_read_some(buffer.prepare(beast::read_size(buffer, 65536)), use_tuple);
    if (read_ec == asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
      co_return ec;
    }
    if (read_ec) co_return read_ec;
    buffer.commit(n);
  }
}

}  // namespace

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

  static Request to_request(bhttp::request<bhttp::string_body>& req, const std::string& remote) {
    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    split_target(request);
    request.headers.reserve(std::distance(req.begin(), req.end()));
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& ch : name) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.remote = remote;
    return request;
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
