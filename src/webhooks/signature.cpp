#include "crawld/webhooks/signature.hpp"

#include "crawld/crawl/address_policy.hpp"
#include "crawld/crawl/url.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/ip/address.hpp>

namespace crawld::webhooks {

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's zero bytes too.
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::optional<std::string> decode_secret(std::string_view secret) {
  constexpr std::string_view prefix = "whsec_";
  if (!secret.starts_with(prefix)) return std::nullopt;
  auto key = unbase64(secret.substr(prefix.size()));
  if (!key || key->size() < 24 || key->size() > 64) return std::nullopt;
  return key;
}

std::string sign(std::string_view key, std::string_view id, std::int64_t timestamp, std::string_view body) {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(content.data()),
       content.size(), mac, &mac_size);
  return "v1," + base64(std::string_view(reinterpret_cast<const char*>(mac), mac_size));
}

}  // namespace crawld::webhooks

namespace crawld {

bool webhook_secret_valid(std::string_view secret) { return webhooks::decode_secret(secret).has_value(); }

std::optional<std::string> webhook_address_refused(const std::string& url, bool allow_private_networks) {
  auto parts = crawl::split_url(url);
  if (!parts) return "not a valid http(s) URL: \"" + url + "\"";
  if (allow_private_networks) return std::nullopt;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(parts->host, ec);
  if (ec || crawl::is_public_address(address)) return std::nullopt;
  return "a private or loopback address (" + parts->host +
         "): refused unless crawl.allow_private_networks is true, as for crawls";
}

}  // namespace crawld
