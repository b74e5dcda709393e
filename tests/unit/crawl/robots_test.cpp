#include "crawld/crawl/robots.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

using crawld::crawl::RobotsCache;
using crawld::crawl::RobotsRules;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kAgent = "crawld/0.1.0 (+https://github.com/crawld/crawld)";

RobotsRules rules_for(std::string_view text) { return RobotsRules::parse(text, kAgent); }

}  // namespace

TEST_CASE("allow_all and disallow_all", "[robots]") {
  CHECK(RobotsRules::allow_all().allowed("/"));
  CHECK(RobotsRules::allow_all().allowed("/anything?x=1"));
  CHECK_FALSE(RobotsRules::allow_all().crawl_delay());
  CHECK_FALSE(RobotsRules::disallow_all().allowed("/"));
  CHECK_FALSE(RobotsRules::disallow_all().allowed("/a"));
  // robots.txt itself is never off limits.
  CHECK(RobotsRules::disallow_all().allowed("/robots.txt"));
}

TEST_CASE("an empty or rule-less robots.txt allows everything", "[robots]") {
  CHECK(rules_for("").allowed("/"));
  CHECK(rules_for("# only a comment\n\n").allowed("/x"));
  CHECK(rules_for("User-agent: *\n").allowed("/x"));
  CHECK(rules_for("User-agent: *\nDisallow:\n").allowed("/x"));
  CHECK(rules_for("User-agent: *\nDisallow: \t # nothing\n").allowed("/x"));
}

TEST_CASE("Disallow matches by prefix", "[robots]") {
  const auto rules = rules_for("User-agent: *\nDisallow: /private\n");
  CHECK_FALSE(rules.allowed("/private"));
  CHECK_FALSE(rules.allowed("/private/"));
  CHECK_FALSE(rules.allowed("/private.html"));
  CHECK_FALSE(rules.allowed("/privateer?x=1"));
  CHECK(rules.allowed("/"));
  CHECK(rules.allowed("/public/private"));
  CHECK(rules.allowed("/Private"));  // paths are case-sensitive
  CHECK(rules.allowed("/robots.txt"));

  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /\n").allowed("/"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /\n").allowed("/a/b?c"));
  CHECK(rules_for("User-agent: *\nDisallow: /\n").allowed("/robots.txt"));
}

TEST_CASE("the longest matching rule wins, Allow wins a tie", "[robots]") {
  const auto rules = rules_for(
      "User-agent: *\n"
      "Disallow: /shop\n"
      "Allow: /shop/public\n"
      "Disallow: /shop/public/secret\n"
      "Allow: /page\n"
      "Disallow: /page\n"
      "Disallow: /folder/\n"
      "Allow: /folder/page\n");
  CHECK_FALSE(rules.allowed("/shop/cart"));
  CHECK(rules.allowed("/shop/public/item"));
  CHECK_FALSE(rules.allowed("/shop/public/secret/x"));
  CHECK(rules.allowed("/page"));
  CHECK(rules.allowed("/folder/page"));
  CHECK_FALSE(rules.allowed("/folder/other"));
  // Order in the file does not matter.
  CHECK(rules_for("User-agent: *\nAllow: /shop/public\nDisallow: /shop\n").allowed("/shop/public/x"));
  CHECK(rules_for("User-agent: *\nDisallow: /page\nAllow: /page\n").allowed("/page"));
}

TEST_CASE("wildcards and end anchors", "[robots]") {
  const auto rules = rules_for(
      "User-agent: *\n"
      "Disallow: /*.gif$\n"
      "Disallow: /*?sessionid=\n"
      "Disallow: /private*/\n"
      "Disallow: /exact$\n"
      "Allow: /*.gif$x\n");
  CHECK_FALSE(rules.allowed("/images/a.gif"));
  CHECK(rules.allowed("/images/a.gif?size=1"));
  CHECK(rules.allowed("/images/a.gifv"));
  CHECK_FALSE(rules.allowed("/cart?sessionid=42"));
  CHECK_FALSE(rules.allowed("/a/b?x=1&y=2?sessionid=1"));
  CHECK(rules.allowed("/cart?session=42"));
  CHECK_FALSE(rules.allowed("/private-stuff/x"));
  CHECK_FALSE(rules.allowed("/private/"));
  CHECK(rules.allowed("/private"));
  CHECK_FALSE(rules.allowed("/exact"));
  CHECK(rules.allowed("/exact/"));
  CHECK(rules.allowed("/exactly"));

  CHECK_FALSE(rules_for("User-agent: *\nDisallow: *\n").allowed("/x"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /*\n").allowed("/"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /$\n").allowed("/"));
  CHECK(rules_for("User-agent: *\nDisallow: /$\n").allowed("/index.html"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /a**b\n").allowed("/a/x/b"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /*a*b$\n").allowed("/xaxb"));
  CHECK(rules_for("User-agent: *\nDisallow: /*a*b$\n").allowed("/xaxbc"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /*ab*ab$\n").allowed("/abaabab"));
}

TEST_CASE("wildcard patterns cannot make matching blow up", "[robots]") {
  const auto rules = rules_for(
      "User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n"
      "Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b$\n");
  const std::string path = "/" + std::string(8000, 'a');
  const auto start = std::chrono::steady_clock::now();
  CHECK(rules.allowed(path));
  CHECK_FALSE(rules.allowed(path + "b"));
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("the group naming our product token applies (RFC 9309 2.2.1)", "[robots]") {
  const std::string text =
      "User-agent: *\n"
      "Disallow: /all\n"
      "\n"
      "User-agent: crawl\n"
      "Disallow: /crawl-prefix\n"
      "\n"
      "User-agent: CrawlD\n"
      "Disallow: /ours\n"
      "\n"
      "User-agent: otherbot\n"
      "Disallow: /\n";
  const auto rules = rules_for(text);
  CHECK_FALSE(rules.allowed("/ours"));
  CHECK(rules.allowed("/all"));  // the "*" group no longer applies
  CHECK(rules.allowed("/crawl-prefix"));
  CHECK(rules.allowed("/other"));
  // A name that is only part of our token is not ours: "*" applies.
  const auto partial = rules_for("User-agent: *\nDisallow: /all\n\nUser-agent: crawl\nDisallow: /crawl-prefix\n");
  CHECK_FALSE(partial.allowed("/all"));
  CHECK(partial.allowed("/crawl-prefix"));
  CHECK(rules_for("User-agent: rawl\nDisallow: /x\n").allowed("/x"));

  // Another product gets the "*" group.
  const auto other = RobotsRules::parse(text, "somebot/1.0");
  CHECK_FALSE(other.allowed("/all"));
  CHECK(other.allowed("/ours"));
  // And one named nowhere, with no "*" group, may crawl everything.
  CHECK(RobotsRules::parse("User-agent: otherbot\nDisallow: /\n", kAgent).allowed("/x"));
}

TEST_CASE("group names are product tokens matched case-insensitively", "[robots]") {
  CHECK_FALSE(rules_for("User-agent: CRAWLD\nDisallow: /x\n").allowed("/x"));
  CHECK_FALSE(rules_for("User-agent: crawld/2.0\nDisallow: /x\n").allowed("/x"));
  CHECK_FALSE(rules_for("user-agent:crawld\ndisallow:/x").allowed("/x"));
  CHECK_FALSE(rules_for("  USER-AGENT :  crawld  \n  DISALLOW  : /x  \n").allowed("/x"));
  CHECK(rules_for("User-agent: crawldx\nDisallow: /x\n").allowed("/x"));
  // Our own product token is what counts, not the rest of our User-Agent.
  CHECK(rules_for("User-agent: github\nDisallow: /x\n").allowed("/x"));
  CHECK_FALSE(RobotsRules::parse("User-agent: crawld\nDisallow: /x\n", "CrawlD").allowed("/x"));
  CHECK(RobotsRules::parse("User-agent: crawld\nDisallow: /x\n", "").allowed("/x"));
}

TEST_CASE("consecutive user-agent lines share one group", "[robots]") {
  const std::string text =
      "User-agent: a\n"
      "User-agent: crawld\n"
      "User-agent: b\n"
      "Disallow: /shared\n"
      "User-agent: c\n"
      "Disallow: /c-only\n";
  const auto rules = rules_for(text);
  CHECK_FALSE(rules.allowed("/shared"));
  CHECK(rules.allowed("/c-only"));
  CHECK_FALSE(RobotsRules::parse(text, "c").allowed("/c-only"));
  CHECK(RobotsRules::parse(text, "c").allowed("/shared"));
  // Blank lines and comments between user-agent lines do not split a group.
  CHECK_FALSE(rules_for("User-agent: a\n\n# note\nUser-agent: crawld\n\nDisallow: /x\n").allowed("/x"));
}

TEST_CASE("groups for the same agent are merged", "[robots]") {
  const auto rules = rules_for(
      "User-agent: crawld\nDisallow: /a\n\n"
      "User-agent: *\nDisallow: /star\n\n"
      "User-agent: crawld\nDisallow: /b\n");
  CHECK_FALSE(rules.allowed("/a"));
  CHECK_FALSE(rules.allowed("/b"));
  CHECK(rules.allowed("/star"));
}

TEST_CASE("rules outside any group and unknown lines are ignored", "[robots]") {
  const auto rules = rules_for(
      "Disallow: /before-any-group\n"
      "Sitemap: https://example.com/sitemap.xml\n"
      "this line is garbage\n"
      ":::\n"
      "Host: example.com\n"
      "User-agent: *\n"
      "Noindex: /x\n"
      "Disallow: /y\n"
      "Sitemap: https://example.com/other.xml\n"
      "Disallow: /z\n");
  CHECK(rules.allowed("/before-any-group"));
  CHECK(rules.allowed("/x"));
  CHECK_FALSE(rules.allowed("/y"));
  CHECK_FALSE(rules.allowed("/z"));
}

TEST_CASE("comments, CRLF, CR, BOM and misspellings", "[robots]") {
  CHECK_FALSE(rules_for("User-agent: * # everyone\r\nDisallow: /x # not /y\r\n").allowed("/x"));
  CHECK(rules_for("User-agent: * # everyone\r\nDisallow: /x # not /y\r\n").allowed("/y"));
  CHECK_FALSE(rules_for("User-agent: *\rDisallow: /x\r").allowed("/x"));
  CHECK_FALSE(rules_for("\xEF\xBB\xBFUser-agent: *\nDisallow: /x\n").allowed("/x"));
  CHECK_FALSE(rules_for("Useragent: *\nDissallow: /x\n").allowed("/x"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /x").allowed("/x"));  // no final newline
  CHECK(rules_for("User-agent: *\n#Disallow: /x\n").allowed("/x"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /a#b\n").allowed("/a"));
}

TEST_CASE("a partial byte order mark is skipped", "[robots]") {
  CHECK_FALSE(rules_for("\xEF\xBBUser-agent: *\nDisallow: /x\n").allowed("/x"));
  CHECK_FALSE(rules_for("\xEFUser-agent: *\nDisallow: /x\n").allowed("/x"));
  // Only a prefix of the mark: other bytes are part of the line.
  CHECK(rules_for("\xBBUser-agent: *\nDisallow: /x\n").allowed("/x"));
}

TEST_CASE("lines without a colon are read when they hold two words", "[robots]") {
  const auto rules = rules_for("user-agent crawld\ndisallow /x\nallow\t/x/open\ndisallow /y /z\n");
  CHECK_FALSE(rules.allowed("/x"));
  CHECK(rules.allowed("/x/open"));
  // Three words are garbage, not a rule for "/y".
  CHECK(rules.allowed("/y"));
  CHECK(rules.allowed("/z"));
  CHECK_FALSE(rules_for("User-agent *\nDisallow /\n").allowed("/anything"));
  CHECK(rules_for("User-agent: *\ndisallow\n").allowed("/x"));
}

TEST_CASE("percent-encoding is compared tolerantly", "[robots]") {
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /%7ejoe\n").allowed("/~joe/index.html"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /~joe\n").allowed("/%7Ejoe/index.html"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /a%3cb\n").allowed("/a%3Cb"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /caf\xC3\xA9\n").allowed("/caf%C3%A9"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /caf%c3%a9\n").allowed("/caf%C3%A9/menu"));
  // What a URL cannot hold raw is compared in its escaped form.
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /a|b\n").allowed("/a%7Cb"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /a%7cb\n").allowed("/a%7Cb"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /{x}\n").allowed("/%7Bx%7D/y"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /a b\n").allowed("/a%20b"));
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /*.pdf$\n").allowed("/a%20b.pdf"));
  // An escaped slash is not a slash.
  CHECK(rules_for("User-agent: *\nDisallow: /a/b\n").allowed("/a%2Fb"));
  CHECK(rules_for("User-agent: *\nDisallow: /a%2Fb\n").allowed("/a/b"));
}

TEST_CASE("queries take part in matching", "[robots]") {
  const auto rules = rules_for("User-agent: *\nDisallow: /search?\nDisallow: /*&print=1\n");
  CHECK_FALSE(rules.allowed("/search?q=x"));
  CHECK(rules.allowed("/search"));
  CHECK(rules.allowed("/search/"));
  CHECK_FALSE(rules.allowed("/article?id=1&print=1"));
  CHECK(rules.allowed("/article?id=1"));
  CHECK(rules.allowed(""));
}

TEST_CASE("Crawl-delay of the chosen group", "[robots]") {
  CHECK(rules_for("User-agent: *\nCrawl-delay: 5\n").crawl_delay() == 5000ms);
  CHECK(rules_for("User-agent: *\nCrawl-delay: 0.5\n").crawl_delay() == 500ms);
  CHECK(rules_for("User-agent: *\ncrawl-delay:2.25 # slow\n").crawl_delay() == 2250ms);
  CHECK(rules_for("User-agent: *\nCrawl-delay: 0\n").crawl_delay() == 0ms);
  CHECK(rules_for("User-agent: *\nCrawl-delay: 99999999999\n").crawl_delay() == std::chrono::milliseconds(86400000));
  CHECK_FALSE(rules_for("User-agent: *\nCrawl-delay: -1\n").crawl_delay());
  CHECK_FALSE(rules_for("User-agent: *\nCrawl-delay: soon\n").crawl_delay());
  CHECK_FALSE(rules_for("User-agent: *\nCrawl-delay: nan\n").crawl_delay());
  CHECK_FALSE(rules_for("User-agent: *\nCrawl-delay: inf\n").crawl_delay());
  CHECK_FALSE(rules_for("User-agent: *\nCrawl-delay:\n").crawl_delay());
  CHECK_FALSE(rules_for("User-agent: *\nDisallow: /x\n").crawl_delay());

  const std::string text = "User-agent: *\nCrawl-delay: 10\n\nUser-agent: crawld\nCrawl-delay: 1\nDisallow: /x\n";
  CHECK(rules_for(text).crawl_delay() == 1000ms);
  CHECK(RobotsRules::parse(text, "other").crawl_delay() == 10000ms);
  // A group of ours without a delay does not inherit the "*" one.
  CHECK_FALSE(rules_for("User-agent: *\nCrawl-delay: 10\n\nUser-agent: crawld\nDisallow: /x\n").crawl_delay());
  // A Crawl-delay line ends the user-agent list like a rule does.
  const auto split = rules_for("User-agent: a\nCrawl-delay: 3\nUser-agent: crawld\nDisallow: /x\n");
  CHECK_FALSE(split.crawl_delay());
  CHECK_FALSE(split.allowed("/x"));
}

TEST_CASE("only the first 500 KiB are read", "[robots]") {
  std::string text = "User-agent: *\nDisallow: /early\n";
  while (text.size() < 600 * 1024) text += "# filler filler filler filler filler filler filler\n";
  text += "Disallow: /late\n";
  const auto rules = rules_for(text);
  CHECK_FALSE(rules.allowed("/early"));
  CHECK(rules.allowed("/late"));

  // A rule straddling the cap is dropped rather than read half: the cap falls
  // right after "Disallow: /", which would block everything.
  std::string straddle = "User-agent: *\n";
  straddle += std::string(500 * 1024 - straddle.size() - 12, '#') + "\n";
  straddle += "Disallow: /late-rule\n";
  CHECK(rules_for(straddle).allowed("/l"));
}

TEST_CASE("binary garbage parses to allow-all", "[robots]") {
  std::string garbage;
  for (int i = 0; i < 100000; ++i) garbage += static_cast<char>((i * 7919) % 256);
  const auto rules = rules_for(garbage);
  CHECK(rules.allowed("/"));
  CHECK(rules_for(std::string_view("User-agent: *\0\nDisallow: /x\n", 28)).allowed("/y"));
}

TEST_CASE("the robots cache keeps rules for its ttl and at most its size", "[robots]") {
  using namespace std::chrono_literals;
  const auto t0 = RobotsCache::Clock::time_point{} + 1h;
  auto rules = std::make_shared<const RobotsRules>(RobotsRules::disallow_all());
  RobotsCache cache(60s, 2);
  CHECK(cache.find("http://a/robots.txt", t0) == nullptr);
  cache.store("http://a/robots.txt", rules, t0);
  CHECK(cache.find("http://a/robots.txt", t0 + 59s) == rules);
  CHECK(cache.find("https://a/robots.txt", t0) == nullptr);  // another scheme, another file
  CHECK(cache.find("http://a/robots.txt", t0 + 60s) == nullptr);
  CHECK(cache.size() == 0);

  // Full: the oldest goes first.
  cache = RobotsCache(60s, 2);
  cache.store("http://a/robots.txt", rules, t0);
  cache.store("http://b/robots.txt", rules, t0 + 1s);
  cache.store("http://c/robots.txt", rules, t0 + 2s);
  CHECK(cache.size() == 2);
  CHECK(cache.find("http://a/robots.txt", t0 + 3s) == nullptr);
  CHECK(cache.find("http://b/robots.txt", t0 + 3s) == rules);
  CHECK(cache.find("http://c/robots.txt", t0 + 3s) == rules);

  // Stored again: the new expiry counts, the old record does not evict it.
  cache.store("http://b/robots.txt", rules, t0 + 30s);
  cache.store("http://d/robots.txt", rules, t0 + 31s);  // full: c (stored at 2s) goes
  CHECK(cache.find("http://b/robots.txt", t0 + 80s) == rules);
  CHECK(cache.find("http://c/robots.txt", t0 + 31s) == nullptr);
  for (int i = 0; i < 1000; ++i) cache.store("http://e/robots.txt", rules, t0 + 40s);
  CHECK(cache.size() <= 2);

  RobotsCache off(0s, 10);
  off.store("http://a/robots.txt", rules, t0);
  CHECK(off.find("http://a/robots.txt", t0) == nullptr);
}

TEST_CASE("a robots.txt fetch: rules, allow-all, or disallow-all with the reason (RFC 9309)", "[robots]") {
  using crawld::crawl::robots_answer;
  using crawld::crawl::RobotsFetchResult;
  auto ok = robots_answer(RobotsFetchResult{200, {}, false, "User-agent: *\nDisallow: /private\n"}, "crawld");
  CHECK_FALSE(ok.rules->allowed("/private/x"));
  CHECK(ok.rules->allowed("/public"));
  CHECK(ok.keep);
  CHECK(ok.unavailable.empty());

  auto missing = robots_answer(RobotsFetchResult{404, {}, false, "not found"}, "crawld");
  CHECK(missing.rules->allowed("/anything"));
  CHECK(missing.keep);

  auto broken = robots_answer(RobotsFetchResult{503, {}, false, {}}, "crawld");
  CHECK_FALSE(broken.rules->allowed("/anything"));
  CHECK_FALSE(broken.keep);  // a server error is no answer to keep
  CHECK(broken.unavailable == "HTTP 503");

  auto down = robots_answer(RobotsFetchResult{0, "connect: Connection refused", false, {}}, "crawld");
  CHECK_FALSE(down.rules->allowed("/"));
  CHECK(down.unavailable == "connect: Connection refused");
  CHECK_FALSE(down.keep);

  // A refused address is the page fetch's error to report, not "disallowed".
  auto refused = robots_answer(RobotsFetchResult{0, "address refused", true, {}}, "crawld");
  CHECK(refused.rules->allowed("/"));
  CHECK_FALSE(refused.keep);

  auto redirect = robots_answer(RobotsFetchResult{301, {}, false, {}}, "crawld");
  CHECK_FALSE(redirect.rules->allowed("/"));
  CHECK_FALSE(redirect.keep);
}

TEST_CASE("Sitemap lines are kept, wherever they stand", "[robots]") {
  const auto rules = rules_for(
      "Sitemap: https://example.com/a.xml\nUser-agent: *\nDisallow: /x\nsitemap:https://example.com/b.xml.gz\n"
      "User-agent: crawld\nSITEMAP : /relative.xml\n");
  CHECK(rules.sitemaps() ==
        std::vector<std::string>{"https://example.com/a.xml", "https://example.com/b.xml.gz", "/relative.xml"});
  std::string many = "User-agent: *\n";
  for (int i = 0; i < 150; ++i) many += "Sitemap: /s" + std::to_string(i) + ".xml\n";
  CHECK(rules_for(many).sitemaps().size() == 100);
}
