// Signing webhook deliveries the way the Standard Webhooks specification
// does: the secret is "whsec_" + base64 of random bytes; each delivery
// carries webhook-id, webhook-timestamp (seconds since the epoch) and
// webhook-signature "v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">",
// so a receiver can check who sent it and refuse replays of old ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crawld::webhooks {

// The key bytes of a "whsec_..." secret (24 to 64 bytes), or nullopt.
std::optional<std::string> decode_secret(std::string_view secret);

// "v1,<base64 signature>" for one delivery.
std::string sign(std::string_view key, std::string_view id, std::int64_t timestamp, std::string_view body);

std::string base64(std::string_view bytes);
std::optional<std::string> unbase64(std::string_view text);

}  // namespace crawld::webhooks

namespace crawld {
// For the configuration's checks (config.cpp).
bool webhook_secret_valid(std::string_view secret);
// Why a webhook URL may not be used, or nullopt: its host is an address
// that is not public while crawl.allow_private_networks is off. (Names are
// resolved, and their addresses checked, at each delivery.)
std::optional<std::string> webhook_address_refused(const std::string& url, bool allow_private_networks);
}  // namespace crawld
