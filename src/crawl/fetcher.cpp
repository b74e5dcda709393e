#include "crawld/crawl/fetcher.hpp"

#include "crawld/crawl/content_encoding.hpp"
#include "crawld/crawl/url.hpp"
#include "resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <set>

namespace crawld::crawl {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Idle connections older than this are closed instead of reused: servers drop
// keep-alive connections after a few seconds and a stale one costs a retry.
constexpr auto max_idle_age = std::chrono::seconds(15);

FetchResponse redirect_failure(FetchResponse out, std::string why) {
  out.error_kind = FetchErrorKind::redirect;
  out.error = std::move(why);
  out.body.clear();
  return out;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

struct Fetcher::Connection {
  // Exactly one of the two streams is set.
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  clock::time_point idle_since;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

struct Fetcher::Hop {
  FetchResponse response;
  std::string location;
};

namespace {

enum class Exchange { keep_alive, close, stale, failed };

constexpr std::size_t read_buffer_bytes = std::size_t{16} * 1024;

// One request/response on an open connection. `reused` connections that fail
// before any response byte arrives are reported as stale so the caller can
// retry on a fresh connection (the server closed it while it was idle).
http::request<http::string_body> make_request(const UrlParts& url, const FetchContext& context,
                                              const Fetcher::Outgoing* outgoing) {
  http::request<http::string_body> request{http::verb::get, url.target, 11};
  bool default_port = (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  request.set(http::field::host, default_port ? host : host + ":" + std::to_string(url.port));
  request.set(http::field::user_agent, context.user_agent());
  request.set(http::field::accept, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8");
  request.set(http::field::accept_encoding, accepted_encodings);
  if (outgoing != nullptr) {
    request.method_string(outgoing->method);
    request.set(http::field::accept, "*/*");
    for (const auto& [name, value] : outgoing->headers) request.set(name, value);
    request.body() = outgoing->body;
    request.prepare_payload();
  }
  return request;
}

using ResponseParser = http::response_parser<http::buffer_body>;

// Reads the body after its header, keeping at most `cap` bytes.
template <class Stream>
asio::awaitable<Exchange> read_body(Stream& stream, beast::flat_buffer& buffer, ResponseParser& parser, std::size_t cap,
                                    FetchResponse& out) {
  if (auto length = parser.content_length())
    out.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, cap)));
  std::array<char, 16 * 1024> chunk;
  auto cancellation = co_await asio::this_coro::cancellation_state;
  while (!parser.is_done()) {
    if (stop_if_cancelled(cancellation, out)) co_return Exchange::failed;
    // Ask for at most one byte past the cap: enough to know it was exceeded.
    std::size_t want = std::min(chunk.size(), cap + 1 - out.body.size());
    parser.get().body().data = chunk.data();
    parser.get().body().size = want;
    auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    out.body.append(chunk.data(), want - parser.get().body().size);
    if (read_ec && read_ec != http::error::need_buffer) {
      out.body.clear();
      set_error(out, read_ec, "http");
      co_return Exchange::failed;
    }
    if (out.body.size() > cap) {
      out.body.resize(cap);
      out.truncated = true;
      co_return Exchange::close;  // the rest of the body is still on the wire
    }
  }
  co_return parser.get().keep_alive() ? Exchange::keep_alive : Exchange::close;
}

template <class Stream>
asio::awaitable<Exchange> exchange(Stream& stream, beast::flat_buffer& buffer, const UrlParts& url, bool reused,
                                   const FetchContext& context, const Fetcher::Outgoing* outgoing, std::size_t cap,
                                   FetchResponse& out, std::string& location) {
  auto cancellation = co_await asio::this_coro::cancellation_state;
  if (stop_if_cancelled(cancellation, out)) co_return Exchange::failed;
  auto request = make_request(url, context, outgoing);
  auto [write_ec, written] = co_await http::async_write(stream, request, use_tuple);
  if (write_ec) {
    if (reused && (write_ec == asio::error::broken_pipe || write_ec == asio::error::connection_reset)) {
      co_return Exchange::stale;
    }
    set_error(out, write_ec, "write");
    co_return Exchange::failed;
  }

  // The parser never limits the body itself: the loop below stops at the cap
  // and keeps what it has, instead of failing the page.
  if (stop_if_cancelled(cancellation, out)) co_return Exchange::failed;
  ResponseParser parser;
  parser.body_limit(boost::none);
  parser.header_limit(64 * 1024);
  auto [header_ec, header_bytes] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
  if (header_ec) {
    if (reused && (header_ec == http::error::end_of_stream || header_ec == asio::error::connection_reset ||
                   header_ec == asio::error::eof)) {
      co_return Exchange::stale;
    }
    set_error(out, header_ec, "http");
    co_return Exchange::failed;
  }
  const auto& header = parser.get();
  out.status = header.result_int();
  auto content_type = parse_content_type(header[http::field::content_type]);
  out.content_type = std::move(content_type.media_type);
  out.charset = std::move(content_type.charset);
  location = std::string(header[http::field::location]);
  out.content_encoding = std::string(header[http::field::content_encoding]);
  out.retry_after = std::string(header[http::field::retry_after]);

  co_return co_await read_body(stream, buffer, parser, cap, out);
}

}  // namespace

Fetcher::Fetcher(asio::any_io_executor executor, FetchContext& context)
    : executor_(std::move(executor)), context_(context) {}

Fetcher::~Fetcher() = default;

std::size_t Fetcher::idle_connections() const {
  std::size_t n = 0;
  for (const auto& [key, connections] : idle_) n += connections.size();
  return n;
}

std::unique_ptr<Fetcher::Connection> Fetcher::take_idle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& connections = it->second;
  std::unique_ptr<Connection> found;
  while (!connections.empty() && !found) {
    auto candidate = std::move(connections.back());
    connections.pop_back();
    if (candidate->lowest().socket().is_open() && clock::now() - candidate->idle_since < max_idle_age) {
      found = std::move(candidate);
    }
  }
  if (connections.empty()) idle_.erase(it);
  return found;
}

void Fetcher::give_back(const std::string& key, std::unique_ptr<Connection> connection) {
  auto& connections = idle_[key];
  if (connections.size() >= context_.config().max_idle_connections_per_host) {
    if (connections.empty()) idle_.erase(key);
    return;
  }
  connection->idle_since = clock::now();
  connection->lowest().expires_never();
  connections.push_back(std::move(connection));
}

namespace {

// SNI only for names (RFC 6066 forbids IP literals), and with verification
// the certificate must name the host (DNS or IP subjectAltName).
asio::awaitable<bool> handshake(beast::ssl_stream<beast::tcp_stream>& tls, const std::string& host, bool verify,
                                clock::time_point deadline, FetchResponse& out) {
  error_code parse_ec;
  asio::ip::make_address(host, parse_ec);
  if (parse_ec && !SSL_set_tlsext_host_name(tls.native_handle(), host.c_str())) {
    out.error_kind = FetchErrorKind::tls;
    out.error = "tls: cannot set SNI host name";
    co_return false;
  }
  if (verify) tls.set_verify_callback(ssl::host_name_verification(host));
  beast::get_lowest_layer(tls).expires_at(deadline);
  auto cancellation = co_await asio::this_coro::cancellation_state;
  if (stop_if_cancelled(cancellation, out)) co_return false;
  auto [handshake_ec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
  if (handshake_ec) {
    set_error(out, handshake_ec, "tls");
    co_return false;
  }
  co_return true;
}

}  // namespace

asio::awaitable<std::unique_ptr<Fetcher::Connection>> Fetcher::connect(const std::string& scheme,
                                                                       const std::string& host, std::uint16_t port,
                                                                       FetchResponse& out) {
  const auto& config = context_.config();
  const auto deadline = clock::now() + std::chrono::milliseconds(config.connect_timeout_ms);
  auto candidates = co_await resolve(executor_, context_, host, port, deadline, out);
  if (!out.error.empty()) co_return nullptr;
  auto endpoints = allowed_endpoints(candidates, host, config, out);
  if (endpoints.empty()) co_return nullptr;

  // Connect.
  auto cancellation = co_await asio::this_coro::cancellation_state;
  if (stop_if_cancelled(cancellation, out)) co_return nullptr;
  auto stream = std::make_unique<beast::tcp_stream>(executor_);
  stream->expires_at(deadline);
  auto [connect_ec, endpoint] = co_await stream->async_connect(endpoints, use_tuple);
  if (connect_ec) {
    set_error(out, connect_ec, "connect");
    co_return nullptr;
  }
  stream->socket().set_option(tcp::no_delay(true));

  auto connection = std::make_unique<Connection>();
  // Beast reads as much as the buffer's free capacity, and at least 512
  // bytes: left to grow on its own, a fresh buffer reads a page 512 bytes
  // per system call.
  connection->buffer.reserve(read_buffer_bytes);
  if (scheme != "https") {
    connection->plain = std::move(stream);
    co_return connection;
  }
  connection->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), context_.tls());
  if (!co_await handshake(*connection->tls, host, config.tls_verify, deadline, out)) co_return nullptr;
  co_return connection;
}

asio::awaitable<Fetcher::Hop> Fetcher::fetch_one(const std::string& url, std::size_t cap, const Outgoing* outgoing) {
  Hop hop;
  auto& out = hop.response;
  out.final_url = url;
  auto parts = split_url(url);
  if (!parts) {
    out.error_kind = FetchErrorKind::http;
    out.error = "invalid URL";
    co_return hop;
  }
  const auto key = parts->scheme + "://" + parts->host + ":" + std::to_string(parts->port);
  const auto deadline = clock::now() + std::chrono::milliseconds(context_.config().request_timeout_ms);

  auto connection = take_idle(key);
  for (;;) {
    bool reused = connection != nullptr;
    if (!connection) {
      connection = co_await connect(parts->scheme, parts->host, parts->port, out);
      if (!connection) co_return hop;
    }
    connection->lowest().expires_at(deadline);
    auto result = connection->tls ? co_await exchange(*connection->tls, connection->buffer, *parts, reused, context_,
                                                      outgoing, cap, out, hop.location)
                                  : co_await exchange(*connection->plain, connection->buffer, *parts, reused, context_,
                                                      outgoing, cap, out, hop.location);
    switch (result) {
      case Exchange::stale:
        connection.reset();
        continue;
      case Exchange::keep_alive:
        give_back(key, std::move(connection));
        co_return hop;
      case Exchange::close:
      case Exchange::failed:
        co_return hop;
    }
  }
}

asio::awaitable<FetchResponse> Fetcher::fetch(std::string url, RedirectCheck check, std::uint32_t redirects_before,
                                              std::size_t max_body) {
  using Action = RedirectVerdict::Action;
  const auto cap = max_body > 0 ? max_body : context_.config().max_body_bytes;
  const auto max_redirects = context_.config().max_redirects;
  std::set<std::string> chain{url};
  std::uint32_t redirects = redirects_before;
  for (;;) {
    // A cancellation ends the hop at its first step (each one looks).
    auto hop = co_await fetch_one(url, cap);
    auto& out = hop.response;
    out.redirects = redirects;
    if (!out.error.empty() || !is_redirect(out.status) || hop.location.empty()) co_return std::move(out);

    auto fail = [&out](std::string why) { return redirect_failure(std::move(out), std::move(why)); };
    auto next = resolve_url(url, hop.location);
    if (!next) co_return fail("redirect to an invalid or non-http(s) URL: " + hop.location);
    if (chain.contains(*next)) co_return fail("redirect loop: " + *next);
    if (redirects >= max_redirects) co_return fail("too many redirects (max " + std::to_string(max_redirects) + ")");
    if (check) {
      auto verdict = co_await check(*next);
      if (verdict.action == Action::refuse) co_return fail("redirect to " + *next + " not followed: " + verdict.reason);
      if (verdict.action == Action::hand_back) {
        out.redirect_to = std::move(*next);
        out.body.clear();
        co_return std::move(out);
      }
    }
    chain.insert(*next);
    url = std::move(*next);
    ++redirects;
  }
}

asio::awaitable<FetchResponse> Fetcher::send(std::string url, Outgoing request, std::size_t max_body) {
  auto hop = co_await fetch_one(url, max_body, &request);
  co_return std::move(hop.response);
}

}  // namespace crawld::crawl
