#include "crawld/api/auth.hpp"

#include "crawld/http/problem.hpp"

#include <catch2/catch.hpp>

using crawld::AuthConfig;
using crawld::api::TokenAuth;
using crawld::http::ApiError;
using crawld::http::Request;

namespace {

const std::string token = "a-long-enough-token-0123456789";

Request request(std::string method, std::optional<std::string> authorization = std::nullopt) {
  Request r;
  r.method = std::move(method);
  if (authorization) r.headers.emplace_back("authorization", *authorization);
  return r;
}

int status_of(const TokenAuth& auth, const Request& r, std::string_view route) {
  try {
    auth.check(r, route);
    return 0;
  } catch (const ApiError& e) {
    return e.status();
  }
}

}  // namespace

TEST_CASE("without tokens every request passes", "[api][auth]") {
  TokenAuth auth(AuthConfig{});
  CHECK_FALSE(auth.enabled());
  CHECK(status_of(auth, request("POST"), "/start") == 0);
}

TEST_CASE("with tokens, changes need a valid bearer token", "[api][auth]") {
  AuthConfig config;
  config.tokens = {token, "another-token-abcdefghijklmnop"};
  TokenAuth auth(config);
  CHECK(auth.enabled());
  CHECK(status_of(auth, request("POST", "Bearer " + token), "/start") == 0);
  CHECK(status_of(auth, request("DELETE", "bearer   another-token-abcdefghijklmnop  "), "/jobs/{id}") == 0);
  CHECK(status_of(auth, request("POST"), "/start") == 401);
  CHECK(status_of(auth, request("POST", "Bearer wrong"), "/start") == 401);
  CHECK(status_of(auth, request("POST", "Basic " + token), "/start") == 401);
  CHECK(status_of(auth, request("POST", token), "/start") == 401);
  CHECK(status_of(auth, request("POST", "Bearer " + token + "x"), "/start") == 401);
  // Reads stay open unless protect_reads.
  CHECK(status_of(auth, request("GET"), "/jobs") == 0);
}

TEST_CASE("protect_reads guards reads but not the probes, and metrics only when asked", "[api][auth]") {
  AuthConfig config;
  config.tokens = {token};
  config.protect_reads = true;
  TokenAuth open_metrics(config);
  CHECK(status_of(open_metrics, request("GET"), "/jobs") == 401);
  CHECK(status_of(open_metrics, request("HEAD"), "/status") == 401);
  CHECK(status_of(open_metrics, request("GET", "Bearer " + token), "/jobs") == 0);
  CHECK(status_of(open_metrics, request("GET"), "/healthz") == 0);
  CHECK(status_of(open_metrics, request("GET"), "/readyz") == 0);
  CHECK(status_of(open_metrics, request("GET"), "/") == 0);
  CHECK(status_of(open_metrics, request("GET"), "/metrics") == 0);
  config.public_metrics = false;
  TokenAuth closed_metrics(config);
  CHECK(status_of(closed_metrics, request("GET"), "/metrics") == 401);
}

TEST_CASE("a 401 says how to authenticate", "[api][auth]") {
  AuthConfig config;
  config.tokens = {token};
  TokenAuth auth(config);
  try {
    auth.check(request("POST"), "/start");
    FAIL("no 401");
  } catch (const ApiError& e) {
    bool challenge = false;
    for (const auto& [name, value] : e.headers()) challenge |= name == "WWW-Authenticate" && value.find("Bearer") == 0;
    CHECK(challenge);
  }
}
