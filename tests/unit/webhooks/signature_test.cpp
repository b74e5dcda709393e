#include "crawld/webhooks/signature.hpp"

#include <catch2/catch.hpp>

using namespace crawld::webhooks;

TEST_CASE("a delivery is signed as the Standard Webhooks specification's example", "[webhooks]") {
  // The specification's own example: secret, id, timestamp, body, signature.
  auto key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  REQUIRE(key);
  CHECK(key->size() == 24);
  CHECK(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Any change to id, time or body changes the signature.
  CHECK(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})") !=
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("secrets must be whsec_ and the base64 of 24 to 64 bytes", "[webhooks]") {
  CHECK_FALSE(decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  CHECK_FALSE(decode_secret("whsec_"));
  CHECK_FALSE(decode_secret("whsec_not base64!"));
  CHECK_FALSE(decode_secret("whsec_" + base64(std::string(23, 'x'))));
  CHECK(decode_secret("whsec_" + base64(std::string(24, 'x'))) == std::string(24, 'x'));
  CHECK(decode_secret("whsec_" + base64(std::string(64, 'y'))) == std::string(64, 'y'));
  CHECK_FALSE(decode_secret("whsec_" + base64(std::string(65, 'x'))));
}

TEST_CASE("base64 round-trips every length, padding included", "[webhooks]") {
  for (std::size_t n = 1; n < 40; ++n) {
    std::string bytes;
    for (std::size_t i = 0; i < n; ++i) bytes += static_cast<char>((i * 37 + n) & 0xff);
    CHECK(unbase64(base64(bytes)) == bytes);
  }
  CHECK(base64("ab") == "YWI=");
  CHECK_FALSE(unbase64("YWI"));
}

TEST_CASE("webhook URLs on non-public addresses are refused unless private networks are allowed", "[webhooks]") {
  CHECK(crawld::webhook_address_refused("http://127.0.0.1:8080/x", false));
  CHECK(crawld::webhook_address_refused("http://192.168.1.1/x", false));
  CHECK_FALSE(crawld::webhook_address_refused("http://127.0.0.1:8080/x", true));
  CHECK_FALSE(crawld::webhook_address_refused("https://93.184.216.34/x", false));
  // Names are checked when each delivery resolves them.
  CHECK_FALSE(crawld::webhook_address_refused("http://localhost/x", false));
}
