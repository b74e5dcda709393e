#include "crawld/crawl/frontier.hpp"

#include <catch2/catch.hpp>

using namespace crawld::crawl;
using namespace std::chrono_literals;

namespace {
FrontierEntry entry(const std::string& host, const std::string& path, std::uint32_t depth = 0) {
  return {"http://" + host + path, host, depth, std::nullopt};
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

TEST_CASE("Frontier: a redirect target goes first on its own host, with that host's delay", "[crawl]") {
  Frontier frontier(1, 100ms);
  frontier.add(entry("a", "/1"));
  frontier.add(entry("b", "/1"));
  frontier.add(entry("b", "/2"));
  auto now = Frontier::clock::now();
  auto from_a = frontier.next(now);
  REQUIRE(from_a.entry);
  CHECK(from_a.entry->host == "a");
  auto from_b = frontier.next(now);
  REQUIRE(from_b.entry);
  CHECK(from_b.entry->url == "http://b/1");
  frontier.done("b");

  // a/1 redirected to b/9 and to c/1 (a host not seen yet); its slot is freed.
  auto to_b = entry("b", "/9", 3);
  to_b.origin = RedirectOrigin{"http://a/1", 1, 12};
  frontier.add_redirect(std::move(to_b));
  frontier.add_redirect(entry("c", "/1"));
  frontier.done("a");
  CHECK(frontier.queued() == 3);
  CHECK_FALSE(frontier.add(entry("b", "/9")));

  // b waits for its delay, then hands out the redirect target before b/2; c
  // is a new host with the default delay and no request yet.
  auto early = frontier.next(now + 50ms);
  REQUIRE(early.entry);
  CHECK(early.entry->url == "http://c/1");
  CHECK_FALSE(frontier.next(now + 50ms).entry);
  auto later = frontier.next(now + 100ms);
  REQUIRE(later.entry);
  CHECK(later.entry->url == "http://b/9");
  CHECK(later.entry->depth == 3);
  REQUIRE(later.entry->origin);
  CHECK(later.entry->origin->url == "http://a/1");
  CHECK(later.entry->origin->redirects == 1);
}
