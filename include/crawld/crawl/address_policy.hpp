// Which resolved addresses a crawl may connect to.
//
// A crawler that follows links will be pointed at internal services sooner or
// later (SSRF); unless the configuration allows private networks, addresses
// in loopback, private, link-local, CGNAT, multicast, unspecified and other
// special-purpose ranges are refused before connecting.
#pragma once

#include <boost/asio/ip/address.hpp>

namespace crawld::crawl {

// True when the address is ordinary public unicast (IPv4 or IPv6, including
// IPv4-mapped IPv6, judged by the mapped IPv4 address).
bool is_public_address(const boost::asio::ip::address& address);

}  // namespace crawld::crawl
