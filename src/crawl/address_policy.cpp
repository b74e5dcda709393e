#include "crawld/crawl/address_policy.hpp"

#include <algorithm>

#include <array>
#include <cstdint>
#include <initializer_list>

namespace crawld::crawl {
namespace {

struct V4Range {
  std::uint32_t network;
  int prefix;
};

constexpr std::uint32_t v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

// From IANA's IPv4 special-purpose registry: nothing a public web crawl has
// any business connecting to lives in these ranges.
constexpr std::array kRefusedV4 = {
    V4Range{v4(0, 0, 0, 0), 8},        // "this network"
    V4Range{v4(10, 0, 0, 0), 8},       // private
    V4Range{v4(100, 64, 0, 0), 10},    // carrier-grade NAT
    V4Range{v4(127, 0, 0, 0), 8},      // loopback
    V4Range{v4(169, 254, 0, 0), 16},   // link-local (cloud metadata lives here)
    V4Range{v4(172, 16, 0, 0), 12},    // private
    V4Range{v4(192, 0, 0, 0), 24},     // IETF protocol assignments
    V4Range{v4(192, 0, 2, 0), 24},     // documentation
    V4Range{v4(192, 88, 99, 0), 24},   // 6to4 relay anycast (deprecated)
    V4Range{v4(192, 168, 0, 0), 16},   // private
    V4Range{v4(198, 18, 0, 0), 15},    // benchmarking
    V4Range{v4(198, 51, 100, 0), 24},  // documentation
    V4Range{v4(203, 0, 113, 0), 24},   // documentation
    V4Range{v4(224, 0, 0, 0), 4},      // multicast
    V4Range{v4(240, 0, 0, 0), 4},      // reserved, includes 255.255.255.255
};

bool in_range(std::uint32_t address, V4Range range) {
  const std::uint32_t mask = range.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - range.prefix);
  return (address & mask) == range.network;
}

bool is_public_v4(std::uint32_t address) {
  return std::ranges::none_of(kRefusedV4, [address](const auto& range) { return in_range(address, range); });
}

using V6Bytes = std::array<unsigned char, 16>;

bool has_prefix(const V6Bytes& bytes, std::initializer_list<unsigned char> prefix, int bits) {
  int index = 0;
  for (const auto expected : prefix) {
    const int remaining = bits - index * 8;
    if (remaining <= 0) break;
    const unsigned char mask = remaining >= 8 ? 0xFF : static_cast<unsigned char>(0xFF << (8 - remaining));
    if ((bytes[index] & mask) != (expected & mask)) return false;
    ++index;
  }
  return true;
}

std::uint32_t v4_at(const V6Bytes& bytes, int offset) {
  return v4(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
}

bool is_public_v6(const V6Bytes& bytes) {
  // Addresses that carry an IPv4 address are judged by it: mapped
  // (::ffff:0:0/96) and NAT64 well-known (64:ff9b::/96).
  if (has_prefix(bytes, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 96)) return is_public_v4(v4_at(bytes, 12));
  if (has_prefix(bytes, {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) return is_public_v4(v4_at(bytes, 12));
  // 6to4 (2002::/16) tunnels to the IPv4 address in bits 16-47.
  if (has_prefix(bytes, {0x20, 0x02}, 16)) return is_public_v4(v4_at(bytes, 2));

  // Only global unicast (2000::/3) is public. This alone refuses ::, ::1,
  // IPv4-compatible ::/96, 100::/64 discard, fc00::/7 unique-local,
  // fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast and the
  // NAT64 local-use 64:ff9b:1::/48.
  if (!has_prefix(bytes, {0x20}, 3)) return false;
  // Special-purpose blocks inside 2000::/3.
  if (has_prefix(bytes, {0x20, 0x01, 0x00}, 23)) return false;        // 2001::/23 (Teredo, ORCHID, ...)
  if (has_prefix(bytes, {0x20, 0x01, 0x0D, 0xB8}, 32)) return false;  // documentation
  if (has_prefix(bytes, {0x3F, 0xFF, 0x00}, 20)) return false;        // documentation (RFC 9637)
  return true;
}

}  // namespace

bool is_public_address(const boost::asio::ip::address& address) {
  if (address.is_v4()) return is_public_v4(address.to_v4().to_uint());
  return is_public_v6(address.to_v6().to_bytes());
}

}  // namespace crawld::crawl
