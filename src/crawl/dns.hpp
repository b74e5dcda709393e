// Name lookups with c-ares, driven by the loop (private to src/crawl).
//
// Each lookup has a c-ares channel of its own whose sockets the loop
// watches (ARES_OPT_SOCK_STATE_CB): nothing blocks, and a cancelled or
// timed-out lookup is destroyed at once, its sockets closed, so a cancelled
// crawl leaves no lookup running. A and AAAA are asked for together.
// Answers are kept for their TTL (at most an hour) in a bounded cache that
// all crawls of a process share. Servers: crawl.dns_servers, else
// /etc/resolv.conf; /etc/hosts is read first, as the C library does.
#pragma once

#include "crawld/util/ttl_cache.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace crawld::crawl {

struct DnsAnswer {
  std::vector<boost::asio::ip::address> addresses;  // in c-ares' order (RFC 6724)
  std::string error;                                // "host not found", "timeout", ...; empty on success
  bool transient = false;                           // worth another try (timeout, server failure)
  bool cancelled = false;
};

// Answers kept for their TTL (at most an hour), 10,000 names by default.
class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit DnsCache(std::size_t max_entries = 10'000) : entries_(max_entries) {}
  const std::vector<boost::asio::ip::address>* find(const std::string& host, Clock::time_point now) {
    return entries_.find(host, now);
  }
  void store(const std::string& host, std::vector<boost::asio::ip::address> addresses, std::chrono::seconds ttl,
             Clock::time_point now) {
    if (addresses.empty()) return;
    entries_.store(host, std::move(addresses), now + std::min(ttl, std::chrono::seconds(3600)), now);
  }
  std::size_t size() const { return entries_.size(); }

 private:
  util::TtlCache<std::vector<boost::asio::ip::address>> entries_;
};

// Looks `host` up (a name, not an IP literal) until `deadline`. Honours the
// awaiting coroutine's cancellation slot. `servers` is crawl.dns_servers
// ("ip" or "ip:port", comma-joined; empty: resolv.conf).
boost::asio::awaitable<DnsAnswer> lookup_host(const boost::asio::any_io_executor& executor, const std::string& host,
                                              const std::string& servers,
                                              std::chrono::steady_clock::time_point deadline, DnsCache& cache);

}  // namespace crawld::crawl
