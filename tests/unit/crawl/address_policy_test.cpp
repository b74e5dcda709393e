#include "crawld/crawl/address_policy.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using crawld::crawl::is_public_address;

namespace {

bool is_public(const std::string& text) { return is_public_address(boost::asio::ip::make_address(text)); }

}  // namespace

TEST_CASE("ordinary public IPv4 addresses are allowed", "[address_policy]") {
  for (const char* address :
       {"1.1.1.1",        "8.8.8.8",         "93.184.216.34", "9.255.255.255",   "11.0.0.0",      "100.63.255.255",
        "100.128.0.0",    "126.255.255.255", "128.0.0.0",     "169.253.255.255", "169.255.0.0",   "172.15.255.255",
        "172.32.0.0",     "191.255.255.255", "192.0.1.0",     "192.0.3.0",       "192.88.98.255", "192.169.0.0",
        "198.17.255.255", "198.20.0.0",      "198.51.99.255", "203.0.112.255",   "203.0.114.0",   "223.255.255.255"}) {
    INFO(address);
    CHECK(is_public(address));
  }
}

TEST_CASE("special-purpose IPv4 ranges are refused", "[address_policy]") {
  for (const char* address :
       {"0.0.0.0",         "0.1.2.3",         "10.0.0.1",        "10.255.255.255",  "100.64.0.0",
        "100.127.255.255", "127.0.0.1",       "127.255.255.254", "169.254.169.254", "172.16.0.1",
        "172.31.255.255",  "192.0.0.8",       "192.0.2.1",       "192.88.99.1",     "192.168.0.1",
        "192.168.255.255", "198.18.0.1",      "198.19.255.255",  "198.51.100.7",    "203.0.113.9",
        "224.0.0.1",       "239.255.255.250", "240.0.0.1",       "254.1.2.3",       "255.255.255.255"}) {
    INFO(address);
    CHECK_FALSE(is_public(address));
  }
}

TEST_CASE("ordinary public IPv6 addresses are allowed", "[address_policy]") {
  for (const char* address : {"2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2001:4860:4860::8888", "2001:200::1",
                              "2400:cb00::1", "3ffe::1", "3fff:1000::1"}) {
    INFO(address);
    CHECK(is_public(address));
  }
}

TEST_CASE("special-purpose IPv6 ranges are refused", "[address_policy]") {
  const std::vector<std::string> outside_global_unicast = {
      "::",           "::1",     "::8.8.8.8", "::0.0.0.2", "100::1", "100::ffff:ffff:ffff:ffff", "64:ff9b:1::8.8.8.8",
      "1fff:ffff::1", "4000::1", "e000::1"};
  const std::vector<std::string> local = {"fe80::1", "febf:ffff::1", "fec0::1", "fc00::1", "fd12:3456::1"};
  const std::vector<std::string> multicast = {"ff02::1", "ff0e::1"};
  const std::vector<std::string> special_in_2000 = {"2001::1",     "2001:0:4136:e378::1", "2001:1ff::1", "2001:10::1",
                                                    "2001:db8::1", "2001:db8:ffff::1",    "3fff::1",     "3fff:fff::1"};
  for (const auto* list : {&outside_global_unicast, &local, &multicast, &special_in_2000}) {
    for (const auto& address : *list) {
      INFO(address);
      CHECK_FALSE(is_public(address));
    }
  }
}

TEST_CASE("IPv6 addresses carrying IPv4 are judged by the IPv4 address", "[address_policy]") {
  // IPv4-mapped.
  CHECK(is_public("::ffff:8.8.8.8"));
  CHECK_FALSE(is_public("::ffff:127.0.0.1"));
  CHECK_FALSE(is_public("::ffff:10.1.2.3"));
  CHECK_FALSE(is_public("::ffff:169.254.169.254"));
  CHECK_FALSE(is_public("::ffff:0.0.0.0"));
  // NAT64 well-known prefix.
  CHECK(is_public("64:ff9b::8.8.8.8"));
  CHECK(is_public("64:ff9b::808:808"));
  CHECK_FALSE(is_public("64:ff9b::127.0.0.1"));
  CHECK_FALSE(is_public("64:ff9b::192.168.1.1"));
  // 6to4.
  CHECK(is_public("2002:808:808::1"));
  CHECK_FALSE(is_public("2002:7f00:1::1"));
  CHECK_FALSE(is_public("2002:c0a8:101::1"));
}

TEST_CASE("scoped IPv6 addresses are judged by the address", "[address_policy]") {
  auto link_local = boost::asio::ip::make_address_v6("fe80::1");
  link_local.scope_id(2);
  CHECK_FALSE(is_public_address(link_local));
}
