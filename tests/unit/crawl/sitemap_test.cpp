#include "crawld/crawl/sitemap.hpp"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace crawld::crawl;
using Strings = std::vector<std::string>;

TEST_CASE("a urlset's and an index's <loc> entries, trimmed, any namespace prefix", "[sitemap]") {
  auto urls = parse_sitemap(R"(<?xml version="1.0" encoding="UTF-8"?>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>
        https://example.com/a</loc><lastmod>2024-01-01</lastmod></url>
      <url><loc>https://example.com/b?x=1&amp;y=2</loc></url>
      <url><changefreq>daily</changefreq></url>
      <loc>https://example.com/not-in-a-url</loc>
    </urlset>)");
  CHECK(urls.error.empty());
  CHECK(urls.urls == Strings{"https://example.com/a", "https://example.com/b?x=1&y=2"});
  CHECK(urls.sitemaps.empty());

  auto index = parse_sitemap(R"(<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sm:sitemap><sm:loc>https://example.com/s1.xml.gz</sm:loc></sm:sitemap>
      <sm:sitemap><sm:loc><![CDATA[https://example.com/s2.xml]]></sm:loc></sm:sitemap></sm:sitemapindex>)");
  CHECK(index.sitemaps == Strings{"https://example.com/s1.xml.gz", "https://example.com/s2.xml"});
  CHECK(index.urls.empty());
}

TEST_CASE("a text sitemap is one URL per line", "[sitemap]") {
  CHECK(parse_sitemap("\xEF\xBB\xBFhttps://a.test/1\r\n\r\n  https://a.test/2  \n").urls ==
        Strings{"https://a.test/1", "https://a.test/2"});
}

TEST_CASE("a sitemap is bounded: 50,000 entries, and its bytes", "[sitemap]") {
  std::string xml = "<urlset>";
  for (int i = 0; i < 60; ++i) xml += "<url><loc>https://a.test/" + std::to_string(i) + "</loc></url>";
  xml += "</urlset>";
  auto capped = parse_sitemap(xml, 50);
  CHECK(capped.urls.size() == 50);
  CHECK(capped.truncated);
  CHECK(parse_sitemap(xml).urls.size() == 60);

  // Cut in the middle (by the byte cap): what came before is kept.
  auto cut = read_sitemap({xml, "", false}, xml.size() / 2);
  CHECK(cut.truncated);
  CHECK(cut.urls.size() > 20);
  CHECK(cut.urls.size() < 40);
}

TEST_CASE("a gzipped sitemap is unpacked by its magic bytes", "[sitemap]") {
  const std::string xml = "<urlset><url><loc>https://a.test/z</loc></url></urlset>";
  std::string packed(compressBound(xml.size()) + 32, '\0');
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(xml.data()));
  stream.avail_in = static_cast<uInt>(xml.size());
  stream.next_out = reinterpret_cast<Bytef*>(packed.data());
  stream.avail_out = static_cast<uInt>(packed.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  packed.resize(stream.total_out);
  deflateEnd(&stream);
  CHECK(read_sitemap({packed, "", false}).urls == Strings{"https://a.test/z"});
  CHECK(read_sitemap({packed, "", false}).error.empty());
}

TEST_CASE("broken, empty and hostile sitemaps give what they can and never expand entities", "[sitemap]") {
  CHECK(parse_sitemap("").error == "sitemap: empty");
  auto cut = parse_sitemap("<urlset><url><loc>https://a.test/1</loc></url><url><loc>https://a.te");
  CHECK(cut.error.empty());  // cut: what was read stays
  CHECK(cut.urls.front() == "https://a.test/1");
  CHECK(parse_sitemap("<<<>>>").error == "sitemap: not well-formed XML");
  const std::string laughs = R"(<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
    <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
    <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
    <urlset><url><loc>https://a.test/&lol4;</loc></url><url><loc>https://a.test/ok</loc></url></urlset>)";
  auto parsed = parse_sitemap(laughs);
  for (const auto& url : parsed.urls) CHECK(url.size() < 100);
  CHECK(read_sitemap({"junk", "gzip", false}).error == "sitemap: content-encoding: broken compressed data");
}
