#include "crawld/crawl/url.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using crawld::crawl::host_key;
using crawld::crawl::normalize_url;
using crawld::crawl::resolve_url;
using crawld::crawl::robots_txt_url;
using crawld::crawl::split_url;
using crawld::crawl::url_key;
using crawld::crawl::UrlParts;

namespace {

// nullopt prints badly in Catch; compare against a sentinel instead.
std::string norm(std::string_view url) { return normalize_url(url).value_or("<none>"); }
std::string res(std::string_view base, std::string_view ref) { return resolve_url(base, ref).value_or("<none>"); }

}  // namespace

TEST_CASE("normalize_url lower-cases scheme and host", "[url]") {
  CHECK(norm("HTTP://Example.COM/Path") == "http://example.com/Path");
  CHECK(norm("hTTpS://WWW.Example.com/") == "https://www.example.com/");
}

TEST_CASE("normalize_url drops default ports only", "[url]") {
  CHECK(norm("http://example.com:80/a") == "http://example.com/a");
  CHECK(norm("https://example.com:443/a") == "https://example.com/a");
  CHECK(norm("http://example.com:443/a") == "http://example.com:443/a");
  CHECK(norm("https://example.com:80/a") == "https://example.com:80/a");
  CHECK(norm("http://example.com:8080/a") == "http://example.com:8080/a");
  CHECK(norm("http://example.com:080/a") == "http://example.com/a");
  CHECK(norm("http://example.com:/a") == "http://example.com/a");
}

TEST_CASE("normalize_url refuses bad ports", "[url]") {
  CHECK_FALSE(normalize_url("http://example.com:0/"));
  CHECK_FALSE(normalize_url("http://example.com:65536/"));
  CHECK_FALSE(normalize_url("http://example.com:99999999999999999999/"));
  CHECK_FALSE(normalize_url("http://example.com:8o/"));
}

TEST_CASE("normalize_url drops the fragment", "[url]") {
  CHECK(norm("http://example.com/a#section") == "http://example.com/a");
  CHECK(norm("http://example.com/a?q=1#x#y") == "http://example.com/a?q=1");
  CHECK(norm("http://example.com#top") == "http://example.com/");
}

TEST_CASE("normalize_url removes dot segments", "[url]") {
  CHECK(norm("http://example.com/a/./b/../c") == "http://example.com/a/c");
  CHECK(norm("http://example.com/a/b/..") == "http://example.com/a/");
  CHECK(norm("http://example.com/a/b/.") == "http://example.com/a/b/");
  CHECK(norm("http://example.com/../../a") == "http://example.com/a");
  CHECK(norm("http://example.com/a/../../../b/") == "http://example.com/b/");
  CHECK(norm("http://example.com/.%2e/x") == "http://example.com/x");
  CHECK(norm("http://example.com/a/%2E%2E/x") == "http://example.com/x");
  // Empty segments are meaningful to servers and are kept.
  CHECK(norm("http://example.com/a//b") == "http://example.com/a//b");
  // Dots inside names are not segments.
  CHECK(norm("http://example.com/a/..b/.c") == "http://example.com/a/..b/.c");
}

TEST_CASE("normalize_url gives an empty path a slash", "[url]") {
  CHECK(norm("http://example.com") == "http://example.com/");
  CHECK(norm("http://example.com?x=1") == "http://example.com/?x=1");
  CHECK(norm("http://example.com:8080") == "http://example.com:8080/");
}

TEST_CASE("normalize_url normalizes percent-encoding", "[url]") {
  CHECK(norm("http://example.com/%7euser") == "http://example.com/~user");
  CHECK(norm("http://example.com/%41%62c") == "http://example.com/Abc");
  // Reserved characters stay encoded (a %2F is not a path separator).
  CHECK(norm("http://example.com/a%2fb") == "http://example.com/a%2Fb");
  CHECK(norm("http://example.com/a%2F..%2Fb") == "http://example.com/a%2F..%2Fb");
  CHECK(norm("http://example.com/%c3%a9") == "http://example.com/%C3%A9");
  CHECK(norm("http://example.com/?q=%7e%2f%26") == "http://example.com/?q=~%2F%26");
  CHECK(norm("http://%45xample.com/") == "http://example.com/");
}

TEST_CASE("normalize_url keeps the query otherwise as it is", "[url]") {
  CHECK(norm("http://example.com/p?b=2&a=1") == "http://example.com/p?b=2&a=1");
  CHECK(norm("http://example.com/p?a=1&a=1&&") == "http://example.com/p?a=1&a=1&&");
  CHECK(norm("http://example.com/p?Q=A+B") == "http://example.com/p?Q=A+B");
  CHECK(norm("http://example.com/p?") == "http://example.com/p?");
  CHECK(norm("http://example.com/p?x=/../y") == "http://example.com/p?x=/../y");
}

TEST_CASE("normalize_url repairs what browsers repair", "[url]") {
  CHECK(norm("  http://example.com/a \n") == "http://example.com/a");
  CHECK(norm("\thttp://example.com/a") == "http://example.com/a");
  CHECK(norm("http://example.com/a b") == "http://example.com/a%20b");
  CHECK(norm("http://example.com/caf\xC3\xA9") == "http://example.com/caf%C3%A9");
  CHECK(norm("http://example.com/lo\nng/pa\r\nth") == "http://example.com/long/path");
  CHECK(norm("http://example.com/100%") == "http://example.com/100%25");
  CHECK(norm("http://example.com/%zz") == "http://example.com/%25zz");
  CHECK(norm("http://example.com/?a[]=1&b=<x>") == "http://example.com/?a%5B%5D=1&b=%3Cx%3E");
  CHECK(norm("http://example.com/{x}|\"y\"") == "http://example.com/%7Bx%7D%7C%22y%22");
}

TEST_CASE("normalize_url handles IP literals", "[url]") {
  CHECK(norm("http://[2001:DB8::1]/") == "http://[2001:db8::1]/");
  CHECK(norm("https://[2001:db8:0:0:0:0:0:1]:443/x") == "https://[2001:db8::1]/x");
  CHECK(norm("http://[::1]:8080") == "http://[::1]:8080/");
  CHECK(norm("http://192.168.0.1:80/") == "http://192.168.0.1/");
  CHECK_FALSE(normalize_url("http://[v1.fe]/"));
  CHECK_FALSE(normalize_url("http://[::1/"));
}

TEST_CASE("normalize_url drops user information", "[url]") {
  CHECK(norm("http://user:secret@example.com/a") == "http://example.com/a");
  CHECK(norm("http://@example.com/a") == "http://example.com/a");
}

TEST_CASE("normalize_url accepts only http(s) with a host", "[url]") {
  CHECK_FALSE(normalize_url("mailto:someone@example.com"));
  CHECK_FALSE(normalize_url("javascript:alert(1)"));
  CHECK_FALSE(normalize_url("data:text/html,<b>hi</b>"));
  CHECK_FALSE(normalize_url("ftp://example.com/file"));
  CHECK_FALSE(normalize_url("file:///etc/passwd"));
  CHECK_FALSE(normalize_url("http:///"));
  CHECK_FALSE(normalize_url("http:"));
  CHECK_FALSE(normalize_url("//example.com/a"));
  CHECK_FALSE(normalize_url("/relative"));
  CHECK_FALSE(normalize_url(""));
  CHECK_FALSE(normalize_url("   "));
  CHECK_FALSE(normalize_url("not a url"));
  CHECK_FALSE(normalize_url(std::string_view("http://exa\0mple.com/", 20)));
  CHECK_FALSE(normalize_url("http://exa mple.com/"));
  CHECK_FALSE(normalize_url("http://ex%20ample.com/"));
  CHECK_FALSE(normalize_url("http://ex%00ample.com/"));
  CHECK_FALSE(normalize_url("http://exa%25mple.com/"));
  CHECK_FALSE(normalize_url("\xFF\xFE\x00garbage"));
}

TEST_CASE("normalize_url refuses absurdly long URLs", "[url]") {
  CHECK(normalize_url("http://example.com/" + std::string(7000, 'a')));
  CHECK_FALSE(normalize_url("http://example.com/" + std::string(9000, 'a')));
  CHECK_FALSE(normalize_url("http://example.com/" + std::string(1 << 20, 'a')));
}

TEST_CASE("normalize_url is idempotent", "[url]") {
  for (const char* url : {"HTTP://Example.COM:80/a/./b/../c#x", "http://example.com/%7e%2f?q=%41 b",
                          "https://[2001:DB8::1]:8443", "http://example.com/a b/caf\xC3\xA9?x[]=1"}) {
    const auto once = normalize_url(url);
    REQUIRE(once);
    CHECK(normalize_url(*once) == once);
  }
}

TEST_CASE("two spellings of one page normalize alike", "[url]") {
  CHECK(norm("HTTP://Example.com:80/a/./b#x") == norm("http://example.com/a/b"));
}

TEST_CASE("resolve_url follows RFC 3986 examples", "[url]") {
  // RFC 3986 5.4 (fragments dropped, as the frontier wants).
  const std::string base = "http://a/b/c/d;p?q";
  CHECK(res(base, "g") == "http://a/b/c/g");
  CHECK(res(base, "./g") == "http://a/b/c/g");
  CHECK(res(base, "g/") == "http://a/b/c/g/");
  CHECK(res(base, "/g") == "http://a/g");
  CHECK(res(base, "//g") == "http://g/");
  CHECK(res(base, "?y") == "http://a/b/c/d;p?y");
  CHECK(res(base, "g?y") == "http://a/b/c/g?y");
  CHECK(res(base, "#s") == "http://a/b/c/d;p?q");
  CHECK(res(base, "g#s") == "http://a/b/c/g");
  CHECK(res(base, ";x") == "http://a/b/c/;x");
  CHECK(res(base, "") == "http://a/b/c/d;p?q");
  CHECK(res(base, ".") == "http://a/b/c/");
  CHECK(res(base, "./") == "http://a/b/c/");
  CHECK(res(base, "..") == "http://a/b/");
  CHECK(res(base, "../g") == "http://a/b/g");
  CHECK(res(base, "../..") == "http://a/");
  CHECK(res(base, "../../g") == "http://a/g");
  CHECK(res(base, "../../../g") == "http://a/g");
  CHECK(res(base, "../../../../g") == "http://a/g");
  CHECK(res(base, "/./g") == "http://a/g");
  CHECK(res(base, "/../g") == "http://a/g");
  CHECK(res(base, "g.") == "http://a/b/c/g.");
  CHECK(res(base, "..g") == "http://a/b/c/..g");
  CHECK(res(base, "./../g") == "http://a/b/g");
  CHECK(res(base, "g/./h") == "http://a/b/c/g/h");
  CHECK(res(base, "g/../h") == "http://a/b/c/h");
  CHECK(res(base, "g;x=1/../y") == "http://a/b/c/y");
  CHECK(res(base, "g?y/./x") == "http://a/b/c/g?y/./x");
}

TEST_CASE("resolve_url handles the usual href shapes", "[url]") {
  const std::string base = "https://Example.com/dir/page.html?x=1#top";
  CHECK(res(base, "../x") == "https://example.com/x");
  CHECK(res(base, "other.html") == "https://example.com/dir/other.html");
  CHECK(res(base, "?q") == "https://example.com/dir/page.html?q");
  CHECK(res(base, "//other.host/p") == "https://other.host/p");
  CHECK(res(base, "//OTHER.host:443") == "https://other.host/");
  CHECK(res(base, "#frag") == "https://example.com/dir/page.html?x=1");
  CHECK(res(base, "#") == "https://example.com/dir/page.html?x=1");
  CHECK(res(base, "HTTP://Elsewhere.ORG:80/a/../b") == "http://elsewhere.org/b");
  CHECK(res(base, "  /trimmed \n") == "https://example.com/trimmed");
  CHECK(res(base, "a b.html") == "https://example.com/dir/a%20b.html");
  CHECK(res(base, "/%7ehome") == "https://example.com/~home");
  CHECK(res("http://example.com", "x") == "http://example.com/x");
  CHECK(res("http://example.com:8080/a/", "b") == "http://example.com:8080/a/b");
  CHECK(res("http://[::1]:8080/a/", "/b") == "http://[::1]:8080/b");
}

TEST_CASE("resolve_url refuses non-http targets and bad input", "[url]") {
  const std::string base = "http://example.com/a/";
  CHECK_FALSE(resolve_url(base, "mailto:a@example.com"));
  CHECK_FALSE(resolve_url(base, "javascript:void(0)"));
  CHECK_FALSE(resolve_url(base, " JavaScript:alert(1)"));
  CHECK_FALSE(resolve_url(base, "data:text/plain,hi"));
  CHECK_FALSE(resolve_url(base, "ftp://example.com/"));
  CHECK_FALSE(resolve_url(base, "tel:+123"));
  CHECK_FALSE(resolve_url(base, "//"));
  CHECK_FALSE(resolve_url(base, "http://[::1"));
  CHECK_FALSE(resolve_url("not a base", "/x"));
  CHECK_FALSE(resolve_url("/relative/base", "/x"));
  CHECK_FALSE(resolve_url("mailto:x@y", "/x"));
}

TEST_CASE("split_url gives the fetcher its pieces", "[url]") {
  auto parts = split_url("HTTPS://Example.com/a/../b?x=1#f");
  REQUIRE(parts);
  CHECK(parts->scheme == "https");
  CHECK(parts->host == "example.com");
  CHECK(parts->port == 443);
  CHECK(parts->target == "/b?x=1");

  parts = split_url("http://example.com");
  REQUIRE(parts);
  CHECK(parts->port == 80);
  CHECK(parts->target == "/");

  parts = split_url("http://[2001:db8::1]:8080/p");
  REQUIRE(parts);
  CHECK(parts->host == "2001:db8::1");
  CHECK(parts->port == 8080);

  CHECK_FALSE(split_url("ftp://example.com/"));
  CHECK_FALSE(split_url("garbage"));
}

TEST_CASE("host_key names the port only when it is not the default", "[url]") {
  CHECK(host_key(UrlParts{"http", "example.com", 80, "/"}) == "example.com");
  CHECK(host_key(UrlParts{"https", "example.com", 443, "/"}) == "example.com");
  CHECK(host_key(UrlParts{"http", "example.com", 8080, "/"}) == "example.com:8080");
  CHECK(host_key(UrlParts{"https", "example.com", 80, "/"}) == "example.com:80");
  CHECK(host_key(UrlParts{"http", "::1", 80, "/"}) == "[::1]");
  CHECK(host_key(UrlParts{"http", "::1", 8080, "/"}) == "[::1]:8080");
  CHECK(host_key(*split_url("HTTP://Example.COM:80/x")) == "example.com");
}

TEST_CASE("random URL-like input never crashes and normalizes to a fixed point", "[url]") {
  // Fragments of real URLs, glued at random: covers odd mixes of escapes,
  // dots, brackets and separators that hand-written cases miss.
  const std::vector<std::string> pieces = {
      "http:", "https:", "HTTP:", "//",    "/",        "\\",   "example.com", "EXAMPLE.org", ":80", ":443", ":8080",
      ":",     "@",      "user",  "[::1]", "[",        "]",    ".",           "..",          "./",  "../",  "%",
      "%2",    "%2e",    "%2F",   "%7e",   "%C3%A9",   "%zz",  "?",           "&",           "=",   "#",    "a",
      "B",     " ",      "\t",    "\n",    "\xC3\xA9", "\x00", "\xFF",        "*",           "+",   ";",    "~"};
  std::mt19937 random(1234);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(0, 14);
  int normalized = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string input = i % 2 == 0 ? "http://example.com/" : "";
    for (int n = length(random); n > 0; --n) input += pieces[pick(random)];
    INFO(input);
    if (const auto once = normalize_url(input)) {
      ++normalized;
      CHECK(normalize_url(*once) == once);
      const auto parts = split_url(*once);
      REQUIRE(parts);
      CHECK(parts->target.front() == '/');
    }
    if (const auto resolved = resolve_url("http://example.com/a/b?q", input)) {
      CHECK(normalize_url(*resolved) == resolved);
    }
  }
  CHECK(normalized > 500);
}

TEST_CASE("robots_txt_url names the origin's robots.txt, as resolving \"/robots.txt\" does", "[url]") {
  const char* urls[] = {"http://example.com/", "http://example.com/a/b?c=d", "https://example.com:8443/x",
                        "http://127.0.0.1:8080/2024", "http://[::1]:8080/p", "http://xn--bcher-kva.example/",
                        // Not normalized: the slow path gives the same answer.
                        "HTTP://Example.COM/a", "http://user:pw@example.com/a", "http://example.com",
                        "http://example.com?q", "http://ex%61mple.com/a", "ftp://example.com/a", "not a url"};
  for (const char* url : urls) {
    INFO(url);
    CHECK(robots_txt_url(url) == resolve_url(url, "/robots.txt"));
  }
  CHECK(robots_txt_url("http://127.0.0.1:8080/2024") == "http://127.0.0.1:8080/robots.txt");
  CHECK_FALSE(robots_txt_url("ftp://example.com/a").has_value());
}

TEST_CASE("url_key reads host key and target off a normalized URL, as split_url does", "[url]") {
  const char* urls[] = {"http://example.com/",
                        "HTTP://Example.COM:80/a/./b/../c?x=1#f",
                        "https://example.com:443/",
                        "https://example.com:8443/x?",
                        "http://127.0.0.1:8080/2024",
                        "http://[::1]:8080/p",
                        "http://[::1]/",
                        "http://user:pw@example.com/a",
                        "http://example.com",
                        "http://example.com?q",
                        "http://ex%61mple.com/%7euser",
                        "http://example.com:080/"};
  for (const char* raw : urls) {
    INFO(raw);
    auto normalized = normalize_url(raw);
    REQUIRE(normalized);
    auto parts = split_url(*normalized);
    REQUIRE(parts);
    auto key = url_key(*normalized);
    REQUIRE(key);
    CHECK(key->host == host_key(*parts));
    CHECK(key->target == parts->target);
    // Not normalized: parsed, with the same answer.
    auto slow = url_key(raw);
    REQUIRE(slow);
    CHECK(slow->host == key->host);
    CHECK(slow->target == key->target);
  }
  CHECK_FALSE(url_key("ftp://example.com/a").has_value());
  CHECK_FALSE(url_key("not a url").has_value());
}

// The WHATWG URL Standard's rules for http(s), with examples from its text
// and from what browsers do with real pages' hrefs.
TEST_CASE("a backslash is a slash in http(s) URLs, up to the query", "[url]") {
  CHECK(norm("http://example.com\\a\\b.html") == "http://example.com/a/b.html");
  CHECK(norm("https:\\\\example.com\\x") == "https://example.com/x");
  CHECK(res("http://example.com/dir/page", "images\\a.png") == "http://example.com/dir/images/a.png");
  CHECK(res("http://example.com/dir/page", "\\\\other.org\\p") == "http://other.org/p");
  CHECK(res("http://example.com/dir/page", "..\\up") == "http://example.com/up");
  // In the query it is data, escaped as RFC 3986 wants.
  CHECK(res("http://example.com/", "/a?b\\c") == "http://example.com/a?b%5Cc");
}

TEST_CASE("slashes after http: are optional, as the URL Standard reads them", "[url]") {
  CHECK(norm("http:example.com/a") == "http://example.com/a");
  CHECK(norm("http:/example.com/a") == "http://example.com/a");
  CHECK(norm("http:///example.com/a") == "http://example.com/a");
  CHECK(norm("HTTPS:////example.com") == "https://example.com/");
  // Against a base of the same scheme, "http:foo" is relative...
  CHECK(res("http://example.com/a/b", "http:foo") == "http://example.com/a/foo");
  CHECK(res("http://example.com/a/b", "http:/foo") == "http://example.com/foo");
  CHECK(res("http://example.com/a/b?q", "http:") == "http://example.com/a/b?q");
  CHECK(res("http://example.com/a/b", "http://other.org/x") == "http://other.org/x");
  // ...and against another scheme it names a host.
  CHECK(res("http://example.com/a/b", "https:foo") == "https://foo/");
  CHECK(res("https://example.com/a/b", "http:foo/x") == "http://foo/x");
}

TEST_CASE("a relative path whose first segment holds a colon is a path", "[url]") {
  const std::string base = "http://example.com/man/index.html";
  CHECK(res(base, "(http://example.com/mkfifo.html") == "http://example.com/man/(http://example.com/mkfifo.html");
  CHECK(res(base, "1a:b") == "http://example.com/man/1a:b");
  CHECK(res(base, "a b:c") == "http://example.com/man/a%20b:c");
  CHECK(res(base, "./x:y") == "http://example.com/man/x:y");
  CHECK(res(base, "?a:b") == "http://example.com/man/index.html?a:b");
  // A valid scheme is a scheme: "foo:bar" is not a web link.
  CHECK_FALSE(resolve_url(base, "foo:bar"));
}

TEST_CASE("international host names become A-labels (UTS #46)", "[url]") {
  CHECK(norm("http://b\xC3\xBC"
             "cher.de/") == "http://xn--bcher-kva.de/");
  CHECK(norm("http://B\xC3\x9C"
             "CHER.de/x") == "http://xn--bcher-kva.de/x");
  CHECK(norm("http://b%C3%BCcher.de/") == "http://xn--bcher-kva.de/");
  // Non-transitional: "ß" stays itself.
  CHECK(norm("http://fa\xC3\x9F.de/") == "http://xn--fa-hia.de/");
  // Full-width letters are mapped to ASCII.
  CHECK(norm("http://\xEF\xBC\xA5xample.com/") == "http://example.com/");
  CHECK(norm("https://\xE4\xBE\x8B\xE3\x81\x88.\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88/") ==
        "https://xn--r8jz45g.xn--zckzah/");
  CHECK(res("http://example.com/", "//m\xC3\xBCnchen.de/a") == "http://xn--mnchen-3ya.de/a");
  // An A-label stays as it is; what is not a name at all is refused.
  CHECK(norm("http://xn--bcher-kva.de/") == "http://xn--bcher-kva.de/");
  CHECK_FALSE(
      normalize_url("http://\xE2\x80\xAE"
                    "bad.com/"));                      // a bidi control
  CHECK_FALSE(normalize_url("http://\xFF\xFE.com/"));  // not UTF-8
}

TEST_CASE("IPv4 numbers in hex, octal and short forms are addresses", "[url]") {
  CHECK(norm("http://0x7f.0.0.1/") == "http://127.0.0.1/");
  CHECK(norm("http://0x7F000001/") == "http://127.0.0.1/");
  CHECK(norm("http://2130706433/") == "http://127.0.0.1/");
  CHECK(norm("http://0177.0.0.1/") == "http://127.0.0.1/");
  CHECK(norm("http://127.1/") == "http://127.0.0.1/");
  CHECK(norm("http://127.0.1/") == "http://127.0.0.1/");
  CHECK(norm("http://192.168.257/") == "http://192.168.1.1/");
  CHECK(norm("http://0x/") == "http://0.0.0.0/");
  // A host that ends in a number must be an address.
  CHECK_FALSE(normalize_url("http://256.0.0.1/"));
  CHECK_FALSE(normalize_url("http://1.2.3.4.5/"));
  CHECK_FALSE(normalize_url("http://example.09/"));
  CHECK_FALSE(normalize_url("http://4294967296/"));
  CHECK_FALSE(normalize_url("http://1..2/"));
  // Names that only look numeric somewhere else are names.
  CHECK(norm("http://1.2.3.example/") == "http://1.2.3.example/");
  CHECK(norm("http://0x7g.com/") == "http://0x7g.com/");
}

TEST_CASE("tabs and newlines vanish, C0 controls and spaces are trimmed", "[url]") {
  CHECK(res("http://example.com/", "\x01\x1F /a\tb\nc \x0B") == "http://example.com/abc");
  CHECK(res("http://example.com/", "java\tscript:alert(1)") == "<none>");
  CHECK(norm("ht\ntp://exa\tmple.com/") == "http://example.com/");
}
