#include "crawld/store/text.hpp"

#include <catch2/catch.hpp>

using crawld::store::sanitize_text;

TEST_CASE("sanitize_text keeps valid UTF-8", "[store][text]") {
  CHECK(sanitize_text("plain") == "plain");
  CHECK(sanitize_text("Gr\xC3\xBC\xC3\x9F"
                      "e \xE2\x82\xAC \xF0\x9F\x98\x80") ==
        "Gr\xC3\xBC\xC3\x9F"
        "e \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(sanitize_text("") == "");
}

TEST_CASE("sanitize_text drops NUL and replaces invalid sequences", "[store][text]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(sanitize_text(std::string("a\0b", 3)) == "ab");
  CHECK(sanitize_text("a\xFFz") == "a" + fffd + "z");
  CHECK(sanitize_text("\xC3") == fffd);                                   // truncated
  CHECK(sanitize_text("\xC0\xAF") == fffd + fffd);                        // overlong
  CHECK(sanitize_text("\xED\xA0\x80") == fffd + fffd + fffd);             // surrogate
  CHECK(sanitize_text("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
  CHECK(sanitize_text("caf\xE9") == "caf" + fffd);                        // Latin-1
}
