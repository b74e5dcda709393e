#include "resolver.hpp"

#include "crawld/crawl/address_policy.hpp"
#include "dns.hpp"

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

// Numeric hosts need no resolver; names go to c-ares (dns.hpp), which the
// loop drives: a cancellation or the deadline ends the lookup itself.
asio::awaitable<std::vector<tcp::endpoint>> resolve(const asio::any_io_executor& executor, FetchContext& context,
                                                    const std::string& host, std::uint16_t port,
                                                    std::chrono::steady_clock::time_point deadline,
                                                    FetchResponse& out) {
  std::vector<tcp::endpoint> candidates;
  error_code parse_ec;
  auto literal = asio::ip::make_address(host, parse_ec);
  if (!parse_ec) {
    candidates.emplace_back(literal, port);
    co_return candidates;
  }
  auto cancellation = co_await asio::this_coro::cancellation_state;
  if (stop_if_cancelled(cancellation, out)) co_return candidates;
  auto answer = co_await lookup_host(executor, host, context.dns_servers(), deadline, context.dns_cache());
  if (answer.cancelled) {
    set_error(out, asio::error::operation_aborted, "resolve");
  } else if (!answer.error.empty()) {
    out.error_kind = answer.error == "timeout" ? FetchErrorKind::timeout : FetchErrorKind::network;
    out.error = "resolve: " + answer.error;
    out.transient = answer.transient;
  } else {
    for (const auto& address : answer.addresses) candidates.emplace_back(address, port);
  }
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
