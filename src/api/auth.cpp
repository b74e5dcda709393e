#include "crawld/api/auth.hpp"

#include "crawld/http/problem.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace crawld::api {
namespace {

std::array<unsigned char, 32> digest(std::string_view text) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

}  // namespace

TokenAuth::TokenAuth(const AuthConfig& config)
    : protect_reads_(config.protect_reads), public_metrics_(config.public_metrics) {
  for (const auto& token : config.tokens) digests_.push_back(digest(token));
}

bool TokenAuth::is_valid(std::string_view token) const {
  auto presented = digest(token);
  bool match = false;
  // Compare against every digest, without stopping early.
  for (const auto& known : digests_) {
    match |= CRYPTO_memcmp(presented.data(), known.data(), known.size()) == 0;
  }
  return match;
}

bool TokenAuth::needs_token(const http::Request& request, std::string_view route) const {
  if (digests_.empty()) return false;
  bool read = request.method == "GET" || request.method == "HEAD";
  if (!read) return true;
  if (!protect_reads_) return false;
  if (route == "/healthz" || route == "/readyz") return false;
  if (route == "/metrics" && public_metrics_) return false;
  // The status page itself holds no data; it asks for a token when the API does.
  if (route == "/") return false;
  return true;
}

void TokenAuth::check(const http::Request& request, std::string_view route) const {
  if (!needs_token(request, route)) return;
  auto header = request.header("authorization");
  if (!header) throw http::unauthorized("this endpoint needs a bearer token (Authorization: Bearer TOKEN)");
  std::string_view value = *header;
  constexpr std::string_view scheme = "bearer ";
  bool has_scheme = value.size() > scheme.size();
  for (std::size_t i = 0; has_scheme && i < scheme.size(); ++i) {
    has_scheme = std::tolower(static_cast<unsigned char>(value[i])) == scheme[i];
  }
  if (!has_scheme) throw http::unauthorized("expected an Authorization header of the form 'Bearer TOKEN'");
  std::string_view token = value.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (!is_valid(token)) throw http::unauthorized("invalid bearer token");
}

}  // namespace crawld::api
