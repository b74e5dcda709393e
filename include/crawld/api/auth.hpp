// Bearer-token authentication for the API.
//
// Tokens come from auth.tokens and CRAWLD_API_TOKEN. Only their SHA-256
// digests are kept in memory, and a presented token is compared against
// every digest in constant time, so neither memory dumps nor timing reveal a
// token. Mutating endpoints need a token whenever any is configured; reads
// too with auth.protect_reads, except the probes (and /metrics when
// auth.public_metrics).
#pragma once

#include "crawld/config.hpp"
#include "crawld/http/message.hpp"

#include <array>
#include <string_view>
#include <vector>

namespace crawld::api {

class TokenAuth {
 public:
  explicit TokenAuth(const AuthConfig& config);

  bool enabled() const { return !digests_.empty(); }
  // Throws http::ApiError 401 (with WWW-Authenticate) when the request needs
  // a token and carries no valid one.
  void check(const http::Request& request, std::string_view route) const;
  bool is_valid(std::string_view token) const;

 private:
  bool needs_token(const http::Request& request, std::string_view route) const;
  std::vector<std::array<unsigned char, 32>> digests_;
  bool protect_reads_;
  bool public_metrics_;
};

}  // namespace crawld::api
