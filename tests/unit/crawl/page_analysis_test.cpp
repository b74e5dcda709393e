#include "crawld/crawl/page_analysis.hpp"

#include <catch2/catch.hpp>

using namespace crawld::crawl;

TEST_CASE("a body's SHA-256 is its lower-case hex digest", "[crawl]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("links are resolved, normalized and kept only on allowed hosts", "[crawl]") {
  std::set<std::string> allowed{"a.test"};
  const std::string html = R"(<html><head><title> The  page </title><base href="/docs/"></head><body>
    <a href="intro.html#top">intro</a> <a href="HTTP://A.test/x/../y">y</a>
    <a href="http://b.test/elsewhere">other host</a> <a href="mailto:x@a.test">mail</a></body></html>)";
  AnalysisRequest request{true, true, "http://a.test/start/page.html", &allowed, 3};
  auto analysis = analyze_page(html, request);
  CHECK(analysis.title == "The page");
  CHECK(analysis.sha256 == sha256_hex(html));
  REQUIRE(analysis.links.size() == 2);
  CHECK(analysis.links[0].url == "http://a.test/docs/intro.html");
  CHECK(analysis.links[1].url == "http://a.test/y");
  CHECK(analysis.links[0].host == "a.test");
  CHECK(analysis.links[0].depth == 3);
}

TEST_CASE("no links past the depth limit, under nofollow, or from a body that is not HTML", "[crawl]") {
  std::set<std::string> allowed{"a.test"};
  const std::string html = R"(<title>T</title><a href="/next">next</a>)";
  AnalysisRequest deep_enough{true, false, "http://a.test/", &allowed, 1};
  auto at_limit = analyze_page(html, deep_enough);
  CHECK(at_limit.title == "T");  // the title is still read
  CHECK(at_limit.links.empty());
  AnalysisRequest wanted{true, true, "http://a.test/", &allowed, 1};
  CHECK(analyze_page(R"(<meta name="robots" content="nofollow"><a href="/next">n</a>)", wanted).links.empty());
  AnalysisRequest not_html{false, true, "http://a.test/", &allowed, 1};
  auto text = analyze_page(html, not_html);
  CHECK(text.links.empty());
  CHECK(text.title.empty());
  CHECK(text.sha256 == sha256_hex(html));
}

TEST_CASE("hrefs that cannot be resolved are counted; other schemes are not", "[crawl]") {
  std::set<std::string> allowed{"a.test"};
  const std::string html =
      R"html(<a href="mailto:x@a.test">m</a><a href="tel:+1">t</a><a href="javascript:void(0)">j</a>
    <a href="http://[::1">broken</a><a href="http://a.test:99999/">bad port</a><a href="http://256.1.1.1/">bad ip</a>
    <a href="/ok">ok</a><a href="http://other.test/">not allowed, but resolved</a>)html";
  AnalysisRequest request{true, true, "http://a.test/", &allowed, 1};
  auto analysis = analyze_page(html, request);
  CHECK(analysis.links_dropped == 3);
  REQUIRE(analysis.links.size() == 1);
  CHECK(analysis.links[0].url == "http://a.test/ok");
}

TEST_CASE("a page's canonical URL is resolved against its base, and kept past the depth limit", "[crawl]") {
  std::set<std::string> allowed{"a.test"};
  const std::string html = R"(<base href="/docs/"><link rel="canonical" href="Intro.html#x"><a href="/next">n</a>)";
  AnalysisRequest at_limit{true, false, "http://a.test/start/page.html", &allowed, 1};
  CHECK(analyze_page(html, at_limit).canonical == "http://a.test/docs/Intro.html");
  AnalysisRequest none{true, true, "http://a.test/", &allowed, 1};
  CHECK(analyze_page("<a href=/x>x</a>", none).canonical.empty());
}
