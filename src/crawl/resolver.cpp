#include "resolver.hpp"

#include "crawld/crawl/address_policy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <memory>

namespace crawld::crawl {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Numeric hosts need no resolver; names are resolved with a
// timer as the thing we wait on, because asio cannot interrupt a running
// getaddrinfo: on cancellation or timeout we stop waiting and leave the
// lookup to finish in the background (it only holds the shared state).
asio::awaitable<std::vector<tcp::endpoint>> resolve(const asio::any_io_executor& executor, const std::string& host,
                                                    std::uint16_t port, std::chrono::steady_clock::time_point deadline,
                                                    FetchResponse& out) {
  std::vector<tcp::endpoint> candidates;
  error_code parse_ec;
  auto literal = asio::ip::make_address(host, parse_ec);
  if (!parse_ec) {
    candidates.emplace_back(literal, port);
    co_return candidates;
  }
  struct Lookup {
    explicit Lookup(const asio::any_io_executor& ex) : resolver(ex), done_event(ex) {}
    tcp::resolver resolver;
    asio::steady_timer done_event;
    bool done = false;
    error_code ec;
    tcp::resolver::results_type results;
  };
  auto cancellation = co_await asio::this_coro::cancellation_state;
  if (stop_if_cancelled(cancellation, out)) co_return candidates;
  auto lookup = std::make_shared<Lookup>(executor);
  lookup->done_event.expires_at(deadline);
  lookup->resolver.async_resolve(host, std::to_string(port),
                                 [lookup](error_code ec, tcp::resolver::results_type results) {
                                   lookup->done = true;
                                   lookup->ec = ec;
                                   lookup->results = std::move(results);
                                   lookup->done_event.cancel();
                                 });
  auto [wait_ec] = co_await lookup->done_event.async_wait(use_tuple);
  if (!lookup->done) {
    lookup->resolver.cancel();
    if (wait_ec == asio::error::operation_aborted) {
      set_error(out, wait_ec, "resolve");
    } else {
      out.error_kind = FetchErrorKind::timeout;
      out.error = "resolve: timeout";
      out.transient = true;
    }
    co_return candidates;
  }
  if (lookup->ec) {
    set_error(out, lookup->ec, "resolve");
    co_return candidates;
  }
  for (const auto& entry : lookup->results) candidates.push_back(entry.endpoint());
  co_return candidates;
}

std::vector<tcp::endpoint> allowed_endpoints(const std::vector<tcp::endpoint>& candidates, const std::string& host,
                                             const CrawlConfig& config, FetchResponse& out) {
  std::vector<tcp::endpoint> endpoints;
  std::string refused;
  for (const auto& endpoint : candidates) {
    if (config.allow_private_networks || is_public_address(endpoint.address())) {
      endpoints.push_back(endpoint);
    } else if (refused.empty()) {
      refused = endpoint.address().to_string();
    }
  }
  if (endpoints.empty() && out.error.empty()) {
    out.error_kind = FetchErrorKind::refused;
    out.error = "address refused: " + host + " resolves to " + (refused.empty() ? std::string("no address") : refused) +
                ", a private, loopback or special-purpose address (allow_private_networks is false)";
  }
  return endpoints;
}

// Marks `out` as failed, classifying the error code.
void set_error(FetchResponse& out, const error_code& ec, std::string_view step) {
  if (ec == asio::error::operation_aborted) {
    out.error_kind = FetchErrorKind::cancelled;
    out.error = "cancelled";
  } else if (ec == boost::beast::error::timeout) {
    out.error_kind = FetchErrorKind::timeout;
    out.error = std::string(step) + ": timeout";
    out.transient = true;
  } else {
    out.error_kind = ec.category() == asio::error::get_ssl_category() ? FetchErrorKind::tls
                     : step == "http"                                 ? FetchErrorKind::http
                                                                      : FetchErrorKind::network;
    out.error = std::string(step) + ": " + ec.message();
    out.transient = ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
                    ec == asio::error::connection_aborted || ec == asio::error::broken_pipe || ec == asio::error::eof ||
                    ec == boost::beast::http::error::end_of_stream ||
                    ec == boost::beast::http::error::partial_message || ec == asio::error::host_unreachable ||
                    ec == asio::error::network_unreachable || ec == asio::error::host_not_found_try_again;
  }
}

bool stop_if_cancelled(const asio::cancellation_state& state, FetchResponse& out) {
  if (state.cancelled() == asio::cancellation_type::none) return false;
  set_error(out, asio::error::operation_aborted, "cancelled");
  return true;
}

}  // namespace crawld::crawl
