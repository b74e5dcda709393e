#include "crawld/crawl/links.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <thread>
#include <vector>

using crawld::crawl::extract_links;
using Strings = std::vector<std::string>;

TEST_CASE("extract_links finds hrefs in document order", "[links]") {
  const auto links = extract_links(R"(<!doctype html><html><head><title>T</title></head><body>
    <a href="/one">1</a> <p><a class="x" href='two.html'>2</a></p>
    <A HREF="HTTP://Example.com/three">3</A>
    <a name="anchor-only">no href</a>
    <a href="">empty</a>
    <a href="  /spaced  ">spaced</a>
  </body></html>)");
  CHECK(links.hrefs == Strings{"/one", "two.html", "HTTP://Example.com/three", "", "  /spaced  "});
  CHECK_FALSE(links.nofollow);
  CHECK_FALSE(links.base_href);
}

TEST_CASE("extract_links decodes entities in attribute values", "[links]") {
  const auto links = extract_links(R"(<a href="/search?a=1&amp;b=2&#x26;c=3">x</a><a href=/unquoted?x=1>y</a>)");
  CHECK(links.hrefs == Strings{"/search?a=1&b=2&c=3", "/unquoted?x=1"});
}

TEST_CASE("extract_links skips rel=nofollow links", "[links]") {
  const auto links = extract_links(R"(
    <a href="/a" rel="nofollow">a</a>
    <a href="/b" rel="noopener NoFollow">b</a>
    <a href="/c" rel="nofollowers">c</a>
    <a href="/d" rel="external">d</a>
    <a href="/e" rel="ugc,nofollow">e</a>
    <a href="/f" REL=" nofollow ">f</a>)");
  CHECK(links.hrefs == Strings{"/c", "/d"});
}

TEST_CASE("extract_links reads the first base href", "[links]") {
  const auto links = extract_links(R"(<head><base target="_blank"><base href="http://example.com/dir/">
    <base href="http://other.example/"></head><a href="x">x</a>)");
  REQUIRE(links.base_href);
  CHECK(*links.base_href == "http://example.com/dir/");
  CHECK(links.hrefs == Strings{"x"});
}

TEST_CASE("extract_links reads the first title with whitespace collapsed", "[links]") {
  CHECK(extract_links("<title>\n  Hello \t\r\n  World  </title>").title == "Hello World");
  CHECK(extract_links("<title>First</title><title>Second</title>").title == "First");
  CHECK(extract_links("<title>Fish &amp; Chips &lt;3</title>").title == "Fish & Chips <3");
  CHECK(extract_links("<html><body><p>No title</p></body></html>").title.empty());
  CHECK(extract_links("<title>   </title>").title.empty());
  CHECK(extract_links("<title>Caf\xC3\xA9</title>").title == "Caf\xC3\xA9");
}

TEST_CASE("extract_links returns UTF-8 whatever the page's charset", "[links]") {
  // A declared single-byte charset is converted.
  auto links = extract_links(
      "<html><head><meta charset=\"iso-8859-1\"><title>Caf\xE9</title></head>"
      "<a href=\"/caf\xE9\">x</a>");
  CHECK(links.title == "Caf\xC3\xA9");
  CHECK(links.hrefs == Strings{"/caf\xC3\xA9"});
  links = extract_links(
      "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">"
      "<title>\x93quoted\x94</title></head>");
  CHECK(links.title == "\xE2\x80\x9Cquoted\xE2\x80\x9D");
  // Undeclared and not UTF-8: still parsed, and the result is valid UTF-8.
  links = extract_links("<title>Caf\xE9</title><a href=/a>a</a>");
  CHECK(links.hrefs == Strings{"/a"});
  CHECK(links.title.rfind("Caf", 0) == 0);
}

TEST_CASE("extract_links caps the title without splitting UTF-8", "[links]") {
  std::string long_title;
  for (int i = 0; i < 2000; ++i) long_title += "\xC3\xA9";  // two bytes each
  const auto title = extract_links("<title>x" + long_title + "</title>").title;
  CHECK(title.size() <= 1000);
  CHECK(title.size() >= 990);
  // "x" then whole two-byte sequences only.
  CHECK(title.size() % 2 == 1);
  CHECK(static_cast<unsigned char>(title.back()) == 0xA9);
}

TEST_CASE("extract_links honours meta robots nofollow", "[links]") {
  for (const char* meta : {R"(<meta name="robots" content="noindex, nofollow">)",
                           R"(<meta name="ROBOTS" content="NOFOLLOW">)", R"(<meta content="none" name="robots">)"}) {
    const auto links = extract_links(std::string("<head>") + meta + "<title>T</title></head><a href=/a>a</a>");
    CHECK(links.nofollow);
    CHECK(links.hrefs.empty());
    CHECK(links.title == "T");
  }
  // Late in the body still counts; hrefs before it are dropped too.
  auto links = extract_links(R"(<a href=/a>a</a><meta name="robots" content="nofollow"><a href=/b>b</a>)");
  CHECK(links.nofollow);
  CHECK(links.hrefs.empty());

  links = extract_links(R"(<meta name="robots" content="noindex"><meta name="description" content="nofollow">
    <a href=/a>a</a>)");
  CHECK_FALSE(links.nofollow);
  CHECK(links.hrefs == Strings{"/a"});
}

TEST_CASE("extract_links stops collecting at max_links", "[links]") {
  std::string html;
  for (int i = 0; i < 50; ++i) html += "<a href=\"/" + std::to_string(i) + "\">x</a>";
  html += "<title>after the links</title>";
  const auto links = extract_links(html, 10);
  REQUIRE(links.hrefs.size() == 10);
  CHECK(links.hrefs.front() == "/0");
  CHECK(links.hrefs.back() == "/9");
  CHECK(links.title == "after the links");
  CHECK(extract_links(html, 0).hrefs.empty());
}

TEST_CASE("extract_links copes with broken markup", "[links]") {
  auto links = extract_links(R"(<html><body><div><a href="/a">unclosed <a href="/b"><p>text <a href=/c)");
  CHECK(links.hrefs == Strings{"/a", "/b", "/c"});

  links = extract_links(R"(<title>Unclosed title <a href="/x">)");
  CHECK(links.title.rfind("Unclosed title", 0) == 0);

  links = extract_links(R"(<a href="/a" href="/b">dup</a><a href="/q"quoted>x</a>)");
  REQUIRE_FALSE(links.hrefs.empty());
  CHECK(links.hrefs.front() == "/a");

  // Links inside script or comments are not links.
  links =
      extract_links(R"(<script>var s = '<a href="/script">';</script><!-- <a href="/comment"> --><a href=/real>r</a>)");
  CHECK(links.hrefs == Strings{"/real"});
}

TEST_CASE("extract_links survives empty and hostile input", "[links]") {
  CHECK(extract_links("").hrefs.empty());
  CHECK(extract_links("plain text, no markup").hrefs.empty());
  CHECK(extract_links(std::string_view("<a href=\"/x\0y\">\0\0</a>", 21)).hrefs.size() <= 1);
  CHECK(extract_links("<<<<>>>></a></a></title><title").hrefs.empty());

  std::mt19937 random(42);
  std::string garbage(1 << 20, '\0');
  for (auto& c : garbage) c = static_cast<char>(random());
  CHECK_NOTHROW(extract_links(garbage));

  // Markup after garbage may or may not be reached (the garbage can open a
  // comment or a script); what matters is that the parser comes back.
  CHECK_NOTHROW(extract_links(garbage.substr(0, 4096) + "<a href=/found>x</a>"));
}

TEST_CASE("extract_links handles a deeply nested 10 MB page", "[links][slow]") {
  std::string html = "<html><body><a href=/before>b</a>";
  const std::string open = "<div><span>";
  while (html.size() < 10 * 1024 * 1024) html += open;
  html += "<a href=\"/deep\">deep</a>";
  const auto links = extract_links(html);
  // libxml2 may give up below some depth; what came before still counts.
  REQUIRE_FALSE(links.hrefs.empty());
  CHECK(links.hrefs.front() == "/before");
  CHECK(links.hrefs.size() <= 2);
}

TEST_CASE("extract_links handles many unclosed inline tags", "[links][slow]") {
  std::string html = "<title>t</title>";
  while (html.size() < 2 * 1024 * 1024) html += "<b><i><a href=/x>";
  const auto links = extract_links(html, 1000);
  CHECK(links.hrefs.size() == 1000);
  CHECK(links.title == "t");
}

TEST_CASE("extract_links can run on several threads at once", "[links]") {
  std::string html = "<title>Threads</title>";
  for (int i = 0; i < 500; ++i) html += "<a href=\"/p" + std::to_string(i) + "\">x</a>";
  std::vector<std::thread> threads;
  std::vector<std::size_t> counts(4);
  for (std::size_t t = 0; t < counts.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) counts[t] = extract_links(html).hrefs.size();
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto count : counts) CHECK(count == 500);
}

TEST_CASE("extract_links follows areas, frames, iframes, link rel=next|prev|alternate and meta refresh", "[links]") {
  const auto links = extract_links(R"(<html><head>
    <link rel="stylesheet" href="/style.css"><link rel="next" href="/page2"><link rel="Prev" href="/page0">
    <link rel="alternate" hreflang="de" href="/de/"><link rel="canonical" href="/the-page">
    <link rel="canonical" href="/second-canonical"><link rel="icon" href="/favicon.ico">
    <meta http-equiv="Refresh" content="5; URL='/moved'"></head>
    <frameset><frame src="/frame-a"><frame name="empty"></frameset>
    <body><iframe src="/embedded"></iframe>
    <map><area href="/region" shape="rect"><area href="/sponsored" rel="nofollow"></map>
    <a href="/plain">plain</a></body></html>)");
  CHECK(links.hrefs == Strings{"/page2", "/page0", "/de/", "/moved", "/frame-a", "/embedded", "/region", "/plain"});
  REQUIRE(links.canonical);
  CHECK(*links.canonical == "/the-page");
}

TEST_CASE("meta refresh URLs are read as the HTML standard's declarative refresh", "[links]") {
  auto refresh = [](const std::string& content) {
    const auto links = extract_links("<meta http-equiv=refresh content=\"" + content + "\">");
    return links.hrefs.empty() ? std::string("<none>") : links.hrefs.front();
  };
  CHECK(refresh("0; url=/next") == "/next");
  CHECK(refresh("0;URL=/next") == "/next");
  CHECK(refresh("3, url = /spaced ") == "/spaced");
  CHECK(refresh("0; url='/quoted' trailing") == "/quoted");
  CHECK(refresh("0; /no-url-key") == "/no-url-key");
  CHECK(refresh("1.5;url=http://example.com/x") == "http://example.com/x");
  CHECK(refresh("10") == "<none>");
  CHECK(refresh("") == "<none>");
  CHECK(refresh("0; url=") == "<none>");
  // Under meta robots nofollow, nothing is followed, not even the refresh.
  CHECK(extract_links(R"(<meta name=robots content=nofollow><meta http-equiv=refresh content="0;url=/x">)")
            .hrefs.empty());
}
