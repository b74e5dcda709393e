#include "crawld/crawl/frontier.hpp"

#include <catch2/catch.hpp>

using namespace crawld::crawl;
using namespace std::chrono_literals;

namespace {
FrontierEntry entry(const std::string& host, const std::string& path, std::uint32_t depth = 0) {
  return {"http://" + host + path, host, depth};
}
}  // namespace

TEST_CASE("Frontier: a URL is queued once", "[crawl]") {
  Frontier frontier(4, 0ms);
  CHECK(frontier.add(entry("a", "/")));
  CHECK_FALSE(frontier.add(entry("a", "/")));
  CHECK(frontier.mark_seen("http://a/redirected"));
  CHECK_FALSE(frontier.add(entry("a", "/redirected")));
  CHECK(frontier.queued() == 1);
}

TEST_CASE("Frontier: per-host concurrency and fair turns", "[crawl]") {
  Frontier frontier(2, 0ms);
  for (const char* path : {"/1", "/2", "/3"}) frontier.add(entry("a", path));
  frontier.add(entry("b", "/1"));
  auto now = Frontier::clock::now();

  auto first = frontier.next(now);
  auto second = frontier.next(now);
  REQUIRE(first.entry);
  REQUIRE(second.entry);
  CHECK(first.entry->host != second.entry->host);  // hosts take turns
  auto third = frontier.next(now);
  REQUIRE(third.entry);
  CHECK(third.entry->host == "a");
  CHECK_FALSE(frontier.next(now).entry);  // a has 2 in flight, b is empty
  CHECK(frontier.active() == 3);
  frontier.done("a");
  auto fourth = frontier.next(now);
  REQUIRE(fourth.entry);
  CHECK(fourth.entry->url == "http://a/3");
}

TEST_CASE("Frontier: the host delay separates request starts", "[crawl]") {
  Frontier frontier(4, 100ms);
  frontier.add(entry("a", "/1"));
  frontier.add(entry("a", "/2"));
  auto now = Frontier::clock::now();
  REQUIRE(frontier.next(now).entry);
  frontier.done("a");
  auto early = frontier.next(now + 50ms);
  CHECK_FALSE(early.entry);
  REQUIRE(early.retry_at);
  CHECK(*early.retry_at == now + 100ms);
  CHECK(frontier.next(now + 100ms).entry);

  frontier.raise_delay("a", 1s);
  frontier.add(entry("a", "/3"));
  CHECK_FALSE(frontier.next(now + 500ms).entry);
}

TEST_CASE("Frontier: a blocked host hands out nothing; put_back goes first", "[crawl]") {
  Frontier frontier(4, 0ms);
  frontier.add(entry("a", "/1"));
  frontier.add(entry("a", "/2"));
  auto now = Frontier::clock::now();
  auto picked = frontier.next(now);
  REQUIRE(picked.entry);
  frontier.block("a", true);
  CHECK_FALSE(frontier.next(now).entry);
  frontier.put_back(std::move(*picked.entry));
  frontier.done("a");
  frontier.block("a", false);
  auto again = frontier.next(now);
  REQUIRE(again.entry);
  CHECK(again.entry->url == "http://a/1");
  CHECK(frontier.queued() == 1);
}
