// The crawl's HTTP/1.1 client (Boost.Beast), running on the caller's executor.
//
// One Fetcher belongs to one crawl and keeps that crawl's keep-alive
// connections (a few idle ones per scheme+host+port). It resolves names
// asynchronously, refuses non-public addresses unless the configuration
// allows private networks, speaks TLS with SNI and certificate + host name
// verification, follows redirects up to the configured limit and caps the
// body it keeps at max_body_bytes (the rest is not read: the page is marked
// truncated and the connection dropped). It asks for compressed bodies
// (Accept-Encoding) and hands them over as they came: decoding is CPU work
// for the compute pool (content_encoding.hpp).
//
// Every wait honours the awaiting coroutine's cancellation slot: a terminal
// cancellation ends an in-flight resolve/connect/handshake/read at once.
// Failures are reported in FetchResponse::error, never thrown; the only
// exception is operation_aborted after cancellation (asio's awaitable rule).
#pragma once

#include "crawld/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crawld::crawl {

class DnsCache;

// Settings and TLS context shared by all crawls of a process.
class FetchContext {
 public:
  // Throws ConfigError when tls_ca_file cannot be loaded.
  explicit FetchContext(const CrawlConfig& config);
  ~FetchContext();
  FetchContext(const FetchContext&) = delete;
  FetchContext& operator=(const FetchContext&) = delete;

  const CrawlConfig& config() const { return config_; }
  const std::string& user_agent() const { return user_agent_; }
  boost::asio::ssl::context& tls() { return tls_; }
  // Name lookups: the answers kept (on the loop), and the servers asked
  // (crawl.dns_servers as c-ares reads them; empty: /etc/resolv.conf).
  DnsCache& dns_cache() { return *dns_cache_; }
  const std::string& dns_servers() const { return dns_servers_; }

 private:
  CrawlConfig config_;
  std::string user_agent_;
  boost::asio::ssl::context tls_;
  std::unique_ptr<DnsCache> dns_cache_;
  std::string dns_servers_;
};

// Why a fetch failed, for callers that treat failures differently
// (robots.txt: a refused address is not "the host is down").
enum class FetchErrorKind { none, refused, timeout, network, tls, http, redirect, cancelled };

struct FetchResponse {
  std::string final_url;         // the URL that produced this response (after redirects)
  int status = 0;                // 0 when no response was received
  std::string content_type;      // media type, lower-case
  std::string charset;           // lower-case, empty when not given
  std::string body;              // as on the wire (still encoded), at most max_body_bytes
  bool truncated = false;        // the body was longer than max_body_bytes
  std::string content_encoding;  // the Content-Encoding header, as sent (decode_body reads it)
  std::string retry_after;       // the Retry-After header, as sent
  std::uint32_t redirects = 0;   // followed, counting those before this fetch
  // Set when the redirect check handed a redirect back: the normalized URL
  // the response (a 3xx, without body) points to, not fetched here.
  std::string redirect_to;
  FetchErrorKind error_kind = FetchErrorKind::none;
  std::string error;       // empty on success
  bool transient = false;  // the error is one a server or network gets over (refused, reset, timeout)
};

// Media type and charset of a Content-Type header value, both lower-case.
struct ContentType {
  std::string media_type;
  std::string charset;
};
ContentType parse_content_type(std::string_view value);

class Fetcher {
 public:
  // What to do with a redirect: follow it in this fetch, refuse it (the
  // reason becomes the page's error), or hand it back to the caller, who
  // fetches the target later (a crawl does so for another host, which has
  // its own slots and delay).
  struct RedirectVerdict {
    enum class Action { follow, refuse, hand_back };
    Action action = Action::follow;
    std::string reason;  // refuse: why
  };
  // Asked before each redirect is followed, with the normalized target URL.
  using RedirectCheck = std::function<boost::asio::awaitable<RedirectVerdict>(const std::string& url)>;

  Fetcher(boost::asio::any_io_executor executor, FetchContext& context);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // GETs a normalized absolute http(s) URL, following redirects.
  // `redirects_before` counts redirects already followed to reach `url`
  // (a handed-back one), so that max_redirects bounds the whole chain.
  // `max_body` overrides max_body_bytes for this fetch (a sitemap's 50 MB).
  boost::asio::awaitable<FetchResponse> fetch(std::string url, RedirectCheck check = {},
                                              std::uint32_t redirects_before = 0, std::size_t max_body = 0);

  // A request other than the crawl's GET: its method, extra headers, body.
  struct Outgoing {
    std::string method = "POST";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  // Sends `request` to a normalized absolute http(s) URL once, under the
  // same address policy, TLS verification and timeouts as a fetch; no
  // redirect is followed (a 3xx is the answer). Keeps at most `max_body`
  // bytes of the answer.
  boost::asio::awaitable<FetchResponse> send(std::string url, Outgoing request, std::size_t max_body = 16 * 1024);

  // Idle keep-alive connections currently pooled (for tests and metrics).
  std::size_t idle_connections() const;

 private:
  struct Connection;
  struct Hop;
  boost::asio::awaitable<Hop> fetch_one(const std::string& url, std::size_t cap, const Outgoing* outgoing = nullptr);
  boost::asio::awaitable<std::unique_ptr<Connection>> connect(const std::string& scheme, const std::string& host,
                                                              std::uint16_t port, FetchResponse& out);
  std::unique_ptr<Connection> take_idle(const std::string& key);
  void give_back(const std::string& key, std::unique_ptr<Connection> connection);

  boost::asio::any_io_executor executor_;
  FetchContext& context_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace crawld::crawl
