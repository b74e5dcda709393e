// Name resolution and the address policy for the crawl's fetcher (private
// to src/crawl).
#pragma once

#include "crawld/config.hpp"
#include "crawld/crawl/fetcher.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace crawld::crawl {

// The addresses of `host` (a name or an IP literal). Empty, with out's error
// set, on failure, timeout (at `deadline`) or cancellation.
boost::asio::awaitable<std::vector<boost::asio::ip::tcp::endpoint>> resolve(
    const boost::asio::any_io_executor& executor, FetchContext& context, const std::string& host, std::uint16_t port,
    std::chrono::steady_clock::time_point deadline, FetchResponse& out);

// The candidates that may be contacted: what is not public is refused before
// any packet is sent, unless crawl.allow_private_networks. Empty, with out's
// error set, when none may.
std::vector<boost::asio::ip::tcp::endpoint> allowed_endpoints(
    const std::vector<boost::asio::ip::tcp::endpoint>& candidates, const std::string& host, const CrawlConfig& config,
    FetchResponse& out);

// True when the awaiting coroutine has been cancelled; `out` is then marked
// cancelled. The crawl's coroutines take cancellation as values (no throw),
// so each step of a fetch looks before it starts: a cancellation that came
// while an earlier step's completion was already queued ends the fetch there.
bool stop_if_cancelled(const boost::asio::cancellation_state& state, FetchResponse& out);

// Marks `out` as failed, classifying the error code.
void set_error(FetchResponse& out, const boost::system::error_code& ec, std::string_view step);

}  // namespace crawld::crawl
