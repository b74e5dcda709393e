#include "crawld/crawl/seen_set.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace crawld::crawl;

TEST_CASE("the seen set answers each URL once, across growth", "[seen]") {
  SeenSet seen;
  CHECK_FALSE(seen.contains("http://a/"));
  CHECK(seen.insert("http://a/"));
  CHECK_FALSE(seen.insert("http://a/"));
  CHECK(seen.contains("http://a/"));
  CHECK(seen.insert(""));  // any text, even empty
  CHECK_FALSE(seen.insert(""));

  constexpr int count = 200'000;  // grows many times
  for (int i = 0; i < count; ++i) REQUIRE(seen.insert("http://example.org/p/" + std::to_string(i)));
  for (int i = 0; i < count; ++i) REQUIRE_FALSE(seen.insert("http://example.org/p/" + std::to_string(i)));
  CHECK(seen.size() == count + 2);
  for (int i = count; i < count + 1000; ++i) REQUIRE_FALSE(seen.contains("http://example.org/p/" + std::to_string(i)));
}

TEST_CASE("the seen set costs 8 to 16 bytes a URL", "[seen]") {
  SeenSet seen;
  for (int i = 0; i < 1'000'000; ++i) {
    seen.insert("http://example.org/" + std::to_string(i));
    if (i >= 10'000 && i % 9973 == 0) {
      const double per_url = static_cast<double>(seen.memory_bytes()) / static_cast<double>(seen.size());
      INFO(i << " URLs: " << per_url << " bytes each");
      REQUIRE(per_url >= 8.0);
      REQUIRE(per_url <= 16.0);
    }
  }
}

TEST_CASE("a fingerprint of 0 is kept apart from an empty slot", "[seen]") {
  // fingerprint() never answers 0: 0 marks an empty slot.
  for (int i = 0; i < 1000; ++i) CHECK(SeenSet::fingerprint(std::to_string(i)) != 0);
  CHECK(SeenSet::fingerprint("http://a/") == SeenSet::fingerprint(std::string("http://a/")));
  CHECK(SeenSet::fingerprint("http://a/") != SeenSet::fingerprint("http://a/b"));
}
