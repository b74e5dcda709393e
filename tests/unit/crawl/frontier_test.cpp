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

TEST_CASE("a paused host hands out nothing before its time", "[frontier]") {
  Frontier frontier(4, std::chrono::milliseconds(0));
  const auto t0 = Frontier::clock::now();
  frontier.add({"http://a/1", "a", 0, std::nullopt});
  frontier.add({"http://b/1", "b", 0, std::nullopt});
  frontier.pause("a", t0 + std::chrono::seconds(2));
  auto first = frontier.next(t0);
  REQUIRE(first.entry);
  CHECK(first.entry->host == "b");
  auto none = frontier.next(t0);
  CHECK_FALSE(none.entry);
  REQUIRE(none.retry_at);
  CHECK(*none.retry_at == t0 + std::chrono::seconds(2));
  auto later = frontier.next(t0 + std::chrono::seconds(2));
  REQUIRE(later.entry);
  CHECK(later.entry->host == "a");
}

TEST_CASE("adapt moves a host's delay towards latency over concurrency, above its floor", "[frontier]") {
  using std::chrono::milliseconds;
  Frontier frontier(4, milliseconds(100));
  frontier.add({"http://a/1", "a", 0, std::nullopt});
  frontier.adapt("a", milliseconds(1000), 1, true);
  CHECK(frontier.delay("a") == milliseconds(1000));  // at least latency / concurrency
  frontier.adapt("a", milliseconds(200), 1, true);
  CHECK(frontier.delay("a") == milliseconds(600));  // halfway down
  frontier.adapt("a", milliseconds(0), 1, false);
  CHECK(frontier.delay("a") == milliseconds(600));  // a failure never speeds up
  frontier.adapt("a", milliseconds(4000), 2, false);
  CHECK(frontier.delay("a") == milliseconds(2000));  // but may slow down
  for (int i = 0; i < 20; ++i) frontier.adapt("a", milliseconds(0), 1, true);
  CHECK(frontier.delay("a") == milliseconds(100));  // never below per_host_delay
  frontier.raise_delay("a", milliseconds(500));
  for (int i = 0; i < 20; ++i) frontier.adapt("a", milliseconds(0), 1, true);
  CHECK(frontier.delay("a") == milliseconds(500));  // nor below Crawl-delay
  frontier.adapt("a", milliseconds(10'000'000), 1, true);
  CHECK(frontier.delay("a") == Frontier::max_adaptive_delay);
}

TEST_CASE("a host given up hands out its URLs at once, past its slots and delay", "[frontier]") {
  Frontier frontier(1, std::chrono::seconds(10));
  const auto t0 = Frontier::clock::now();
  for (int i = 0; i < 3; ++i) frontier.add({"http://a/" + std::to_string(i), "a", 0, std::nullopt});
  REQUIRE(frontier.next(t0).entry);
  CHECK_FALSE(frontier.next(t0).entry);
  frontier.give_up("a");
  CHECK(frontier.given_up("a"));
  CHECK(frontier.next(t0).entry);
  CHECK(frontier.next(t0).entry);
  CHECK(frontier.queued() == 0);
}
