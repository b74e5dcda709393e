// The HTTP client against the local test site: body cap, redirects,
// keep-alive reuse, timeouts; and Content-Type parsing.
#include "crawld/crawl/fetcher.hpp"

#include "../../support/test_site.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

namespace asio = boost::asio;
using namespace crawld;
using namespace crawld::crawl;
using crawld::test::TestSite;

namespace {

CrawlConfig fetch_config() {
  CrawlConfig config;
  config.allow_private_networks = true;
  config.max_body_bytes = 64 * 1024;
  config.connect_timeout_ms = 2'000;
  config.request_timeout_ms = 5'000;
  return config;
}

// Runs `body(fetcher)` as a coroutine on a fresh loop and returns its result.
template <class Body>
auto with_fetcher(const CrawlConfig& config, Body body) {
  asio::io_context ioc;
  FetchContext context(config);
  Fetcher fetcher(ioc.get_executor(), context);
  auto future = asio::co_spawn(ioc, body(fetcher), asio::use_future);
  ioc.run();
  return future.get();
}

}  // namespace

TEST_CASE("Content-Type: media type and charset, lower-cased", "[crawl]") {
  auto plain = parse_content_type("text/html");
  CHECK(plain.media_type == "text/html");
  CHECK(plain.charset.empty());
  auto full = parse_content_type(" Text/HTML ; foo=bar; Charset=\"ISO-8859-1\"");
  CHECK(full.media_type == "text/html");
  CHECK(full.charset == "iso-8859-1");
  CHECK(parse_content_type("").media_type.empty());
  CHECK(parse_content_type("application/json;charset=UTF-8").charset == "utf-8");
}

TEST_CASE("a body larger than the cap is truncated, not allocated", "[crawl][net]") {
  TestSite site;
  auto url = site.url("/huge");  // claims 1 GiB
  auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) { return fetcher.fetch(url); });
  CHECK(response.error.empty());
  CHECK(response.status == 200);
  CHECK(response.truncated);
  CHECK(response.body.size() == 64 * 1024);
  CHECK(response.body.capacity() < 1024 * 1024);
}

TEST_CASE("a body of exactly the cap is not truncated", "[crawl][net]") {
  TestSite site;
  auto config = fetch_config();
  auto url = site.url("/file.pdf");  // 520 bytes
  config.max_body_bytes = 520;
  auto response = with_fetcher(config, [&](Fetcher& fetcher) { return fetcher.fetch(url); });
  CHECK(response.body.size() == 520);
  CHECK_FALSE(response.truncated);
}

TEST_CASE("redirects: followed, limited, loops detected", "[crawl][net]") {
  TestSite site;
  SECTION("within the limit") {
    auto url = site.url("/redirect/chain/3");
    auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) { return fetcher.fetch(url); });
    CHECK(response.error.empty());
    CHECK(response.status == 200);
    CHECK(response.redirects == 3);
    CHECK(response.final_url == site.url("/redirect/chain/0"));
  }
  SECTION("too many") {
    auto url = site.url("/redirect/chain/10");
    auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) { return fetcher.fetch(url); });
    CHECK(response.error_kind == FetchErrorKind::redirect);
    CHECK(response.error.find("too many redirects") != std::string::npos);
    CHECK(site.requests().size() == 6);  // the first request and five redirects
  }
  SECTION("loop") {
    auto url = site.url("/redirect/loop1");
    auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) { return fetcher.fetch(url); });
    CHECK(response.error.find("redirect loop") != std::string::npos);
    CHECK(site.requests() == std::vector<std::string>{"/redirect/loop1", "/redirect/loop2"});
  }
  SECTION("refused by the check") {
    auto url = site.url("/redirect/to-d");
    auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) {
      return fetcher.fetch(url, [](const std::string&) -> asio::awaitable<Fetcher::RedirectVerdict> {
        co_return Fetcher::RedirectVerdict{Fetcher::RedirectVerdict::Action::refuse, "nope"};
      });
    });
    CHECK(response.error.find("not followed: nope") != std::string::npos);
    CHECK(site.requests() == std::vector<std::string>{"/redirect/to-d"});
  }
  SECTION("handed back by the check") {
    auto url = site.url("/redirect/to-d");
    auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) {
      return fetcher.fetch(url, [](const std::string&) -> asio::awaitable<Fetcher::RedirectVerdict> {
        co_return Fetcher::RedirectVerdict{Fetcher::RedirectVerdict::Action::hand_back, {}};
      });
    });
    CHECK(response.error.empty());
    CHECK(response.status == 302);
    CHECK(response.redirect_to == site.url("/d.html"));
    CHECK(response.final_url == url);
    CHECK(response.body.empty());
    CHECK(site.requests() == std::vector<std::string>{"/redirect/to-d"});
  }
  SECTION("redirects before this fetch count towards the limit") {
    auto url = site.url("/redirect/chain/3");
    auto response = with_fetcher(fetch_config(), [&](Fetcher& fetcher) { return fetcher.fetch(url, {}, 3); });
    CHECK(response.error.find("too many redirects") != std::string::npos);
    CHECK(site.requests().size() == 3);  // 3 + 2 redirects reach the limit of 5
  }
}

TEST_CASE("keep-alive connections are reused per host", "[crawl][net]") {
  TestSite site;
  auto base = site.url("/");
  auto idle = with_fetcher(fetch_config(), [&](Fetcher& fetcher) -> asio::awaitable<std::size_t> {
    for (const char* path : {"a.html", "b.html", "c.html", "missing", "file.pdf"}) {
      auto response = co_await fetcher.fetch(base + path);
      CHECK(response.error.empty());
    }
    co_return fetcher.idle_connections();
  });
  CHECK(idle == 1);
  CHECK(site.log()["connections"].get<int>() == 1 + 1);  // ours, and the /__log request
}

TEST_CASE("the request timeout ends a fetch that never answers", "[crawl][net]") {
  TestSite site;
  auto config = fetch_config();
  config.request_timeout_ms = 300;
  auto url = site.url("/hang/1");
  auto start = std::chrono::steady_clock::now();
  auto response = with_fetcher(config, [&](Fetcher& fetcher) { return fetcher.fetch(url); });
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(response.error_kind == FetchErrorKind::timeout);
  CHECK(response.error.find("timeout") != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(2));
}

TEST_CASE("an unloadable tls_ca_file is a configuration error", "[crawl]") {
  auto config = fetch_config();
  config.tls_ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_AS(FetchContext(config), ConfigError);
}
