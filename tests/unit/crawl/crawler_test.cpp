// Crawls of the local test site (tests/support/test_site.py): what was
// fetched, what was never requested, the limits, cancellation and TLS.
#include "crawld/crawl/crawler.hpp"
#include "crawld/crawl/url.hpp"

#include "../../support/test_site.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

namespace asio = boost::asio;
using namespace crawld;
using namespace crawld::crawl;
using crawld::test::TestSite;
using clock_type = std::chrono::steady_clock;

namespace {

struct CollectingSink : PageSink {
  std::vector<PageResult> pages;
  std::vector<std::string> events;  // "level: message"
  asio::awaitable<void> on_page(PageResult page) override {
    pages.push_back(std::move(page));
    co_return;
  }
  void on_event(std::string_view level, const std::string& message) override {
    events.push_back(std::string(level) + ": " + message);
  }
};

CrawlConfig test_config() {
  CrawlConfig config;
  config.allow_private_networks = true;  // the site is on 127.0.0.1
  config.concurrency = 8;
  config.per_host_concurrency = 4;
  config.max_body_bytes = 64 * 1024;
  config.connect_timeout_ms = 2'000;
  config.request_timeout_ms = 5'000;
  config.user_agent = "crawld-test/1.0";
  return config;
}

TargetConfig target_for(const TestSite& site, const std::string& path) {
  TargetConfig target;
  target.name = "test";
  target.seeds = {site.url(path)};
  return target;
}

struct CrawlRun {
  CrawlResult result;
  std::vector<PageResult> pages;
  std::map<std::string, PageResult> by_path;  // keyed by the queued URL's path
  std::vector<std::string> events;
};

CrawlRun run_crawl(const CrawlConfig& config, const TargetConfig& target, bool deep) {
  asio::io_context ioc;
  asio::thread_pool pool(1);
  CrawlEngine engine(config, pool);
  CollectingSink sink;
  auto control = std::make_shared<CrawlControl>();
  auto future = asio::co_spawn(ioc, engine.run(CrawlRequest{target, 2024, deep}, sink, control), asio::use_future);
  ioc.run();
  CrawlRun run{future.get(), std::move(sink.pages), {}, std::move(sink.events)};
  for (const auto& page : run.pages) run.by_path[split_url(page.url)->target] = page;
  CHECK(control->progress.fetched == run.result.progress.fetched);
  return run;
}

// Crawls one after another on one engine (what a service does), each of
// its own target.
std::vector<CrawlRun> run_crawls(const CrawlConfig& config, const std::vector<TargetConfig>& targets, bool deep) {
  asio::io_context ioc;
  asio::thread_pool pool(1);
  CrawlEngine engine(config, pool);
  std::vector<CrawlRun> runs;
  for (const auto& target : targets) {
    CollectingSink sink;
    auto future = asio::co_spawn(ioc, engine.run(CrawlRequest{target, 2024, deep}, sink, nullptr), asio::use_future);
    ioc.restart();
    ioc.run();
    CrawlRun run{future.get(), std::move(sink.pages), {}};
    for (const auto& page : run.pages) run.by_path[split_url(page.url)->target] = page;
    runs.push_back(std::move(run));
  }
  return runs;
}

std::size_t robots_reads(const TestSite& site) {
  auto requests = site.requests();
  return static_cast<std::size_t>(std::count(requests.begin(), requests.end(), "/robots.txt"));
}

// The site logs when it has read a request, the crawler spaces the starts
// of its requests: a request that took longer to reach the site than the
// one after it (a new connection, a slow sanitizer build) shortens the gap
// the site sees. Each gap may fall short by that lag, the span may not.
void check_spaced(const std::vector<double>& times, std::size_t first, double delay_s) {
  constexpr double arrival_lag_s = 0.05;
  for (std::size_t i = first + 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= delay_s - arrival_lag_s);
  auto gaps = static_cast<double>(times.size() - 1 - first);
  CHECK(times.back() - times[first] >= gaps * delay_s - arrival_lag_s);
}

std::set<std::string> with_robots(std::set<std::string> paths) {
  paths.insert("/robots.txt");
  return paths;
}

const std::set<std::string> depth0 = {"/"};
const std::set<std::string> depth1 = {"/a.html",
                                      "/b.html",
                                      "/c.html",
                                      "/private/open.html",
                                      "/redirect/to-d",
                                      "/d.html",
                                      "/redirect/loop1",
                                      "/redirect/loop2",
                                      "/redirect/to-private",
                                      "/redirect/to-foreign",
                                      "/missing",
                                      "/error",
                                      "/file.pdf",
                                      "/big.html",
                                      "/calendar/2024/1"};
const std::set<std::string> depth2 = {"/sub/x.html", "/e.html",          "/~user.html",
                                      "/f.html",     "/calendar/2024/2", "/calendar/2023/12"};
const std::set<std::string> depth3 = {"/g.html", "/h.html", "/calendar/2024/3", "/calendar/2023/11"};

std::set<std::string> join(std::initializer_list<std::set<std::string>> sets) {
  std::set<std::string> out;
  for (const auto& set : sets) out.insert(set.begin(), set.end());
  return out;
}

}  // namespace

TEST_CASE("a shallow crawl fetches the seed only", "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(test_config(), target_for(site, "/"), false);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  CHECK(site.requested_paths() == with_robots(depth0));
  REQUIRE(run.pages.size() == 1);
  const auto& page = run.pages[0];
  CHECK(page.status == 200);
  CHECK(page.depth == 0);
  CHECK(page.title == "Index");
  CHECK(page.content_type == "text/html");
  CHECK(page.charset == "utf-8");
  CHECK(page.sha256.size() == 64);
  CHECK(page.error.empty());
  CHECK(run.result.progress.fetched == 1);
}

TEST_CASE("shallow_depth 1 fetches the seed and its links", "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/");
  target.shallow_depth = 1;
  auto run = run_crawl(test_config(), target, false);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  CHECK(site.requested_paths() == with_robots(join({depth0, depth1})));
}

TEST_CASE("a deep crawl fetches exactly the reachable set, each URL once", "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(test_config(), target_for(site, "/"), true);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  auto requests = site.requests();
  auto expected = with_robots(join({depth0, depth1, depth2, depth3}));
  CHECK(std::set<std::string>(requests.begin(), requests.end()) == expected);
  CHECK(requests.size() == expected.size());  // duplicate spellings were fetched once

  // Never requested: robots-disallowed, nofollow, another host, too deep.
  for (const char* path : {"/private/secret.html", "/nofollowed.html", "/foreign.html", "/i.html"}) {
    CHECK(std::find(requests.begin(), requests.end(), path) == requests.end());
  }

  auto& by_path = run.by_path;
  CHECK(by_path["/sub/x.html"].depth == 2);
  CHECK(by_path["/g.html"].depth == 3);
  CHECK(by_path["/redirect/to-d"].final_url == site.url("/d.html"));
  CHECK(by_path["/redirect/to-d"].status == 200);
  CHECK(by_path["/redirect/loop1"].error.find("redirect loop") != std::string::npos);
  CHECK(by_path["/redirect/to-private"].error.find("robots") != std::string::npos);
  CHECK(by_path["/redirect/to-foreign"].error.find("not allowed") != std::string::npos);
  CHECK(by_path["/missing"].status == 404);
  CHECK(by_path["/error"].status == 500);
  CHECK(by_path["/file.pdf"].content_type == "application/pdf");
  CHECK(by_path["/file.pdf"].title.empty());
  CHECK_FALSE(by_path["/file.pdf"].sha256.empty());
  CHECK(by_path["/big.html"].truncated);
  CHECK(by_path["/big.html"].bytes == 64 * 1024);
  CHECK(by_path["/big.html"].title == "Big");
  CHECK(run.result.progress.bytes > 0);
  CHECK(run.result.progress.failed == 3);  // loop, to-private, to-foreign
  // The cut body is counted and named in the job's log.
  CHECK(run.result.progress.truncated == 1);
  CHECK(run.events == std::vector<std::string>{"warn: page truncated at max_body_bytes (65536 bytes), links past "
                                               "the cut not followed: " +
                                               site.url("/big.html")});
  // A robots exclusion is skipped, not fetched; a refused redirect target
  // is the redirecting page's failure.
  CHECK(by_path["/private/secret.html"].skipped);
  CHECK_FALSE(by_path["/redirect/to-private"].skipped);
  CHECK(run.result.progress.skipped == 1);
}

TEST_CASE("the calendar trap is bounded by max_pages", "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/calendar/2024/1");
  target.deep_depth = 100;
  target.max_pages = 10;
  auto run = run_crawl(test_config(), target, true);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  CHECK(run.result.max_pages_reached);
  CHECK(run.pages.size() == 10);
  auto requests = site.requests();
  CHECK(std::count_if(requests.begin(), requests.end(),
                      [](const std::string& path) { return path.rfind("/calendar/", 0) == 0; }) == 10);
}

TEST_CASE("links beyond what max_pages lets the crawl fetch are not queued", "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/");
  target.max_pages = 4;  // the seed has 15 links
  auto run = run_crawl(test_config(), target, true);

  CHECK(run.result.max_pages_reached);
  CHECK(run.pages.size() == 4);
  // Everything queued was fetched: nothing was held in memory for nothing.
  CHECK(run.result.progress.queued == 0);
}

TEST_CASE("private addresses are refused unless allowed", "[crawl][net]") {
  TestSite site;
  auto config = test_config();
  config.allow_private_networks = false;
  auto run = run_crawl(config, target_for(site, "/"), true);

  CHECK(run.result.outcome == CrawlOutcome::failed);
  REQUIRE(run.pages.size() == 1);
  CHECK(run.pages[0].status == 0);
  CHECK(run.pages[0].error.find("address refused") != std::string::npos);
  CHECK(run.pages[0].error.find("127.0.0.1") != std::string::npos);
  CHECK(run.result.error.find("no seed could be fetched") != std::string::npos);
  CHECK(site.requests().empty());
}

TEST_CASE("the per-host concurrency limit is never exceeded", "[crawl][net]") {
  TestSite site;
  auto config = test_config();
  config.concurrency = 16;
  config.per_host_concurrency = 3;
  auto target = target_for(site, "/fan/");
  target.deep_depth = 1;
  auto run = run_crawl(config, target, true);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  CHECK(run.pages.size() == 21);
  auto max_inflight = site.log()["max_inflight"].get<int>();
  CHECK(max_inflight <= 3);
  CHECK(max_inflight >= 2);  // the limit is used, not just respected
}

TEST_CASE("robots.txt Crawl-delay spaces the requests to a host", "[crawl][net]") {
  TestSite site({"--crawl-delay", "0.3"});
  auto target = target_for(site, "/fan/");
  target.deep_depth = 1;
  target.max_pages = 4;
  auto run = run_crawl(test_config(), target, true);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  auto log = site.log();
  CHECK(log["max_inflight"].get<int>() == 1);
  auto times = log["times"].get<std::vector<double>>();
  REQUIRE(times.size() == 5);  // robots.txt + 4 pages
  check_spaced(times, 0, 0.3);
}

TEST_CASE("a redirect to another host waits for that host's slot and delay", "[crawl][net]") {
  // Four pages of `site` redirect to `away`, whose robots.txt asks for 0.3 s
  // between requests. Followed inside the redirecting fetches, they would
  // reach `away` four at once (per_host_concurrency 4).
  TestSite away({"--crawl-delay", "0.3"});
  TestSite site({"--away-port", std::to_string(away.port())});
  auto target = target_for(site, "/away/");
  target.allowed_hosts = {site.host_key(), away.host_key()};
  target.shallow_depth = 1;
  auto run = run_crawl(test_config(), target, false);

  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  CHECK(run.result.progress.fetched == 5);
  auto log = away.log();
  CHECK(log["max_inflight"].get<int>() == 1);
  auto times = log["times"].get<std::vector<double>>();
  REQUIRE(times.size() == 5);  // robots.txt + 4 pages
  check_spaced(times, 0, 0.3);
  for (int i = 0; i < 4; ++i) {
    const auto& page = run.by_path["/away/" + std::to_string(i)];
    CHECK(page.final_url == away.url("/slow/" + std::to_string(i)));
    CHECK(page.status == 200);
    CHECK(page.depth == 1);
    CHECK(page.title == "Slow /slow/" + std::to_string(i));
    CHECK(page.error.empty());
    CHECK(page.elapsed_ms >= 100);  // the redirect and the slow page
  }
}

TEST_CASE("redirects back and forth between two hosts end as a loop", "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/ping");
  target.allowed_hosts = {site.host_key(), "localhost:" + std::to_string(site.port())};
  auto run = run_crawl(test_config(), target, false);

  CHECK(run.result.outcome == CrawlOutcome::failed);
  REQUIRE(run.pages.size() == 1);
  CHECK(run.pages[0].url == site.url("/ping"));
  CHECK(run.pages[0].error.find("redirect loop") != std::string::npos);
  CHECK(run.result.progress.failed == 1);
  auto requests = site.requests();
  CHECK(std::count(requests.begin(), requests.end(), "/ping") == 1);
  CHECK(std::count(requests.begin(), requests.end(), "/pong") == 1);
}

TEST_CASE("robots.txt answering 5xx disallows the host, 4xx allows it", "[crawl][net]") {
  SECTION("500") {
    TestSite site({"--robots-status", "500"});
    auto run = run_crawl(test_config(), target_for(site, "/"), true);
    CHECK(run.result.outcome == CrawlOutcome::failed);
    CHECK(site.requested_paths() == std::set<std::string>{"/robots.txt"});
    REQUIRE(run.pages.size() == 1);
    CHECK(run.pages[0].error.find("robots: disallowed") != std::string::npos);
    CHECK(run.result.progress.skipped == 1);
    // The crawl's error says why its seed was not fetched.
    CHECK(run.result.error.find("no seed could be fetched: " + site.url("/") + ": robots: disallowed") == 0);
  }
  SECTION("404") {
    TestSite site({"--robots-status", "404"});
    auto target = target_for(site, "/");
    target.shallow_depth = 1;
    auto run = run_crawl(test_config(), target, false);
    CHECK(run.result.outcome == CrawlOutcome::succeeded);
    CHECK(site.requested_paths().count("/private/secret.html") == 1);
  }
}

TEST_CASE("crawls of a site read its robots.txt once per robots_cache_s, and still obey it", "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/");
  target.shallow_depth = 1;
  auto config = test_config();
  SECTION("kept") {
    auto runs = run_crawls(config, {target, target, target}, false);
    CHECK(robots_reads(site) == 1);
    for (const auto& run : runs) {
      CHECK(run.result.outcome == CrawlOutcome::succeeded);
      REQUIRE(run.by_path.contains("/private/secret.html"));
      CHECK(run.by_path.at("/private/secret.html").error == "robots: disallowed");
    }
    CHECK(site.requested_paths().count("/private/secret.html") == 0);
  }
  SECTION("robots_cache_s = 0: every crawl reads it") {
    config.robots_cache_s = 0;
    run_crawls(config, {target, target}, false);
    CHECK(robots_reads(site) == 2);
  }
}

TEST_CASE("a robots.txt that could not be read is asked for again by the next crawl", "[crawl][net]") {
  TestSite site({"--robots-status", "500"});
  auto runs = run_crawls(test_config(), {target_for(site, "/"), target_for(site, "/")}, false);
  CHECK(robots_reads(site) == 2);
  for (const auto& run : runs) CHECK(run.result.outcome == CrawlOutcome::failed);
}

TEST_CASE("a kept robots.txt brings its Crawl-delay along", "[crawl][net]") {
  TestSite site({"--crawl-delay", "0.3"});
  auto target = target_for(site, "/fan/");
  target.deep_depth = 1;
  target.max_pages = 3;
  run_crawls(test_config(), {target, target}, true);
  CHECK(robots_reads(site) == 1);
  // robots.txt, 3 pages, then the second crawl's 3 pages: those are spaced
  // by the kept file's delay too (its own frontier starts without one).
  auto times = site.log()["times"].get<std::vector<double>>();
  REQUIRE(times.size() == 7);
  check_spaced(times, 4, 0.3);
}

TEST_CASE("obey_robots=false neither reads nor obeys robots.txt", "[crawl][net]") {
  TestSite site;
  auto config = test_config();
  config.obey_robots = false;
  auto target = target_for(site, "/");
  target.shallow_depth = 1;
  auto run = run_crawl(config, target, false);
  auto paths = site.requested_paths();
  CHECK(paths.count("/robots.txt") == 0);
  CHECK(paths.count("/private/secret.html") == 1);
}

TEST_CASE("terminal cancellation ends a crawl with hanging fetches within 100 ms", "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/hang-start.html");
  target.deep_depth = 1;

  asio::io_context ioc;
  asio::thread_pool pool(1);
  CrawlEngine engine(test_config(), pool);
  CollectingSink sink;
  auto control = std::make_shared<CrawlControl>();
  asio::cancellation_signal cancel;
  std::optional<CrawlResult> result;
  clock_type::time_point emitted, finished;

  const auto started = clock_type::now();
  asio::co_spawn(ioc, engine.run(CrawlRequest{target, 2024, true}, sink, control),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr error, CrawlResult r) {
                   finished = clock_type::now();
                   if (!error) result = std::move(r);
                 }));
  asio::steady_timer timer(ioc, std::chrono::milliseconds(500));
  timer.async_wait([&](boost::system::error_code) {
    emitted = clock_type::now();
    cancel.emit(asio::cancellation_type::terminal);
  });
  ioc.run();
  const auto total = clock_type::now() - started;

  REQUIRE(result);
  CHECK(result->outcome == CrawlOutcome::cancelled);
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(finished - emitted);
  WARN("cancellation latency: " << latency.count() << " us");
  CHECK(latency < std::chrono::milliseconds(100));
  CHECK(total < std::chrono::seconds(2));  // nothing was left running in the loop
  auto paths = site.requested_paths();
  CHECK(paths.count("/hang/0") == 1);  // the hanging fetches were really in flight
  CHECK(sink.pages.size() == 1);       // only the start page completed
}

TEST_CASE("a soft stop lets in-flight fetches finish and starts no new ones", "[crawl][net]") {
  TestSite site;
  auto config = test_config();
  config.per_host_concurrency = 2;
  auto target = target_for(site, "/fan/");
  target.deep_depth = 1;

  asio::io_context ioc;
  asio::thread_pool pool(1);
  CrawlEngine engine(config, pool);
  CollectingSink sink;
  auto control = std::make_shared<CrawlControl>();
  auto future = asio::co_spawn(ioc, engine.run(CrawlRequest{target, 2024, true}, sink, control), asio::use_future);
  asio::steady_timer timer(ioc, std::chrono::milliseconds(250));
  timer.async_wait([&](boost::system::error_code) { control->request_stop(); });
  ioc.run();
  auto result = future.get();

  CHECK(result.outcome == CrawlOutcome::cancelled);
  CHECK(result.error == "stop requested");
  CHECK(sink.pages.size() > 1);
  CHECK(sink.pages.size() < 21);
  CHECK(site.requests().size() == sink.pages.size() + 1);  // every started fetch was reported
}

namespace {

struct TlsFiles {
  std::filesystem::path dir;
  std::string cert, key;
  TlsFiles() {
    char pattern[] = "/tmp/crawld-tls-XXXXXX";
    dir = mkdtemp(pattern);
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  ~TlsFiles() { std::filesystem::remove_all(dir); }
};

}  // namespace

TEST_CASE("TLS: self-signed certificates are rejected unless trusted or verification is off", "[crawl][net]") {
  TlsFiles files;
  TestSite site({"--tls", files.cert, files.key});
  auto target = target_for(site, "/");
  REQUIRE(target.seeds[0].rfind("https://", 0) == 0);

  SECTION("verification on, system store only") {
    auto run = run_crawl(test_config(), target, false);
    CHECK(run.result.outcome == CrawlOutcome::failed);
    REQUIRE(run.pages.size() == 1);
    CHECK(run.pages[0].status == 0);
    CHECK(run.pages[0].error.find("certificate verify failed") != std::string::npos);
  }
  SECTION("verification off") {
    auto config = test_config();
    config.tls_verify = false;
    auto run = run_crawl(config, target, false);
    CHECK(run.result.outcome == CrawlOutcome::succeeded);
    REQUIRE(run.pages.size() == 1);
    CHECK(run.pages[0].status == 200);
    CHECK(run.pages[0].title == "Index");
  }
  SECTION("the certificate configured as CA") {
    auto config = test_config();
    config.tls_ca_file = files.cert;
    auto run = run_crawl(config, target, false);
    CHECK(run.result.outcome == CrawlOutcome::succeeded);
    REQUIRE(run.pages.size() == 1);
    CHECK(run.pages[0].status == 200);
  }
}

TEST_CASE("expand_seeds replaces every {season}", "[crawl]") {
  TargetConfig target;
  target.seeds = {"https://example.com/{season}/x?s={season}", "https://example.com/"};
  auto seeds = expand_seeds(target, 2024);
  CHECK(seeds == std::vector<std::string>{"https://example.com/2024/x?s=2024", "https://example.com/"});
}

TEST_CASE("compressed pages are asked for, decoded, and their links followed; a bomb stops at the cap",
          "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(test_config(), target_for(site, "/enc/"), true);
  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  auto requests = site.requests();
  for (const char* kind : {"gzip", "deflate", "raw-deflate", "br"}) {
    INFO(kind);
    CHECK(std::find(requests.begin(), requests.end(), std::string("/enc/found-") + kind + ".html") != requests.end());
    const auto& page = run.by_path[std::string("/enc/") + kind + ".html"];
    CHECK(page.error.empty());
    CHECK(page.title == std::string("Encoded ") + kind);
    CHECK(page.wire_bytes < page.bytes);
  }
  for (const auto& accepted : site.log()["accept_encodings"]) CHECK(accepted == "gzip, deflate, br");

  // 10 MB of zeros in 10 KB: decoded up to max_body_bytes, no further.
  const auto& bomb = run.by_path["/enc/bomb"];
  CHECK(bomb.truncated);
  CHECK(bomb.bytes == test_config().max_body_bytes);
  CHECK(bomb.wire_bytes < 64 * 1024);
  CHECK(run.result.progress.truncated == 1);
  std::uint64_t wire = 0;
  for (const auto& page : run.pages) wire += page.wire_bytes;
  CHECK(run.result.progress.bytes == wire);
}

namespace {

CrawlConfig retry_config() {
  auto config = test_config();
  config.max_retries = 2;
  config.retry_backoff_ms = 20;
  config.max_retry_after_s = 10;
  return config;
}

// Seconds between the first and the last request the site saw for `path`.
double first_to_last(const TestSite& site, const std::string& path) {
  auto log = site.log();
  std::vector<double> times;
  for (std::size_t i = 0; i < log["requests"].size(); ++i) {
    if (log["requests"][i] == path) times.push_back(log["times"][i].get<double>());
  }
  REQUIRE(times.size() >= 2);
  return times.back() - times.front();
}

}  // namespace

TEST_CASE("503 with Retry-After in seconds: the page is fetched again after it, and succeeds", "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(retry_config(), target_for(site, "/retry/503-after-2"), false);
  const auto& page = run.by_path["/retry/503-after-2"];
  CHECK(page.status == 200);
  CHECK(page.error.empty());
  CHECK(run.result.progress.retries == 1);
  CHECK(run.result.progress.http_errors == 0);
  CHECK(first_to_last(site, "/retry/503-after-2") >= 1.95);  // Retry-After: 2
}

TEST_CASE("429 with Retry-After as an HTTP-date is honoured", "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(retry_config(), target_for(site, "/retry/429-date"), false);
  CHECK(run.by_path["/retry/429-date"].status == 200);
  CHECK(run.result.progress.retries == 1);
  // The date has whole seconds: 2 s ahead when sent is more than 1 s when read.
  CHECK(first_to_last(site, "/retry/429-date") >= 0.95);
}

TEST_CASE("transient answers are retried with backoff, up to max_retries", "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(retry_config(), target_for(site, "/retry/502-twice"), false);
  CHECK(run.by_path["/retry/502-twice"].status == 200);
  CHECK(run.result.progress.retries == 2);

  auto config = retry_config();
  config.max_retries = 1;
  TestSite again;
  auto short_of = run_crawl(config, target_for(again, "/retry/502-twice"), false);
  CHECK(short_of.by_path["/retry/502-twice"].status == 502);
  CHECK(short_of.result.progress.retries == 1);
  CHECK(short_of.result.progress.http_errors == 1);

  auto gave_up = run_crawl(retry_config(), target_for(site, "/retry/always-503"), false);
  CHECK(gave_up.by_path["/retry/always-503"].status == 503);
  auto requests = site.requests();
  CHECK(std::count(requests.begin(), requests.end(), "/retry/always-503") == 3);  // 1 + max_retries
}

TEST_CASE("a Retry-After longer than max_retry_after_s fails the page with that reason", "[crawl][net]") {
  TestSite site;
  auto run = run_crawl(retry_config(), target_for(site, "/retry/too-long"), false);
  const auto& page = run.by_path["/retry/too-long"];
  CHECK(page.error == "HTTP 503 with Retry-After 3600 s, more than crawl.max_retry_after_s (10)");
  CHECK(run.result.progress.retries == 0);
  CHECK(run.result.progress.failed == 1);
}

TEST_CASE("a host that resets every connection is given up after host_failure_limit, with one event", "[crawl][net]") {
  TestSite reset({"--reset"});
  TestSite site({"--away-port", std::to_string(reset.port())});
  auto config = retry_config();
  config.max_retries = 1;
  config.host_failure_limit = 3;
  config.per_host_concurrency = 1;
  // With robots.txt obeyed, the host's unreachable robots.txt would
  // disallow it all before any page fetch (RFC 9309).
  config.obey_robots = false;
  auto target = target_for(site, "/to-reset/");
  target.allowed_hosts = {site.host_key(), reset.host_key()};
  auto run = run_crawl(config, target, true);
  CHECK(run.result.progress.failed == 20);
  CHECK(run.result.progress.retries == 3);  // one per failure before the host was given up
  std::size_t not_fetched = 0;
  for (const auto& page : run.pages) {
    if (page.error.starts_with("not fetched: host " + reset.host_key() + " given up after 3 failures")) ++not_fetched;
  }
  CHECK(not_fetched == 17);
  REQUIRE(run.events.size() == 1);
  CHECK(run.events[0].starts_with("warn: host " + reset.host_key() + " given up after 3 failures in a row"));
}

TEST_CASE("sitemaps: robots.txt's index, gzipped sitemaps and /sitemap.xml reach pages no link reaches",
          "[crawl][net]") {
  TestSite site;
  auto target = target_for(site, "/f.html");  // a page without links
  target.deep_depth = 3;
  auto without = run_crawl(test_config(), target, true);
  CHECK(without.pages.size() == 1);

  target.sitemaps = true;
  site.reset();
  auto run = run_crawl(test_config(), target, true);
  CHECK(run.result.outcome == CrawlOutcome::succeeded);
  const auto requested = site.requested_paths();
  for (const char* path : {"/maps/index.xml", "/maps/a.xml.gz", "/maps/b.xml", "/sitemap.xml", "/hidden/1.html",
                           "/hidden/2.html", "/hidden/3.html", "/hidden/4.html"}) {
    INFO(path);
    CHECK(requested.contains(path));
  }
  for (int i = 1; i <= 4; ++i) CHECK(run.by_path["/hidden/" + std::to_string(i) + ".html"].depth == 1);
  // Sitemaps are not pages; the other host's entries are not followed.
  CHECK(run.pages.size() == 5);
  CHECK_FALSE(run.by_path.contains("/maps/index.xml"));
  CHECK(run.result.progress.links_dropped == 1);  // "http://[::1"
  CHECK(run.events.empty());
}

namespace {

// A DNS server of the test's own on 127.0.0.1 (tests/support/dns_server.py),
// its queries logged to a file.
struct TestDns {
  explicit TestDns(const std::vector<std::string>& options)
      : log(std::filesystem::temp_directory_path() /
            ("crawld-dns-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log")),
        server(with_log(options, log.string()), "dns_server.py") {}
  ~TestDns() { std::filesystem::remove(log); }
  std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }
  std::vector<std::string> queries() const {
    std::ifstream in(log);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  static std::vector<std::string> with_log(std::vector<std::string> options, const std::string& path) {
    options.insert(options.end(), {"--log", path});
    return options;
  }
  static inline int counter = 0;
  std::filesystem::path log;
  TestSite server;
};

}  // namespace

TEST_CASE("names are looked up with crawl.dns_servers, international ones as A-labels, and kept for their TTL",
          "[crawl][net][dns]") {
  TestSite site;
  TestDns dns({"--answer", "site.test=127.0.0.1", "--answer", "xn--bcher-kva.test=127.0.0.1", "--ttl", "300"});
  auto config = test_config();
  config.dns_servers = {dns.address()};
  TargetConfig ascii;
  ascii.name = "ascii";
  ascii.seeds = {"http://site.test:" + std::to_string(site.port()) + "/f.html"};
  TargetConfig international;
  international.name = "idn";
  international.seeds = {
      "http://b\xC3\xBC"
      "cher.test:" +
      std::to_string(site.port()) + "/d.html"};
  auto runs = run_crawls(config, {ascii, international, ascii}, false);
  CHECK(runs[0].by_path["/f.html"].status == 200);
  CHECK(runs[1].by_path["/d.html"].status == 200);
  CHECK(runs[1].pages.at(0).url == "http://xn--bcher-kva.test:" + std::to_string(site.port()) + "/d.html");
  CHECK(runs[2].by_path["/f.html"].status == 200);
  auto queries = dns.queries();
  // A and AAAA each once per name: the third crawl used the kept answer.
  CHECK(std::count(queries.begin(), queries.end(), "site.test. A") == 1);
  CHECK(std::count(queries.begin(), queries.end(), "site.test. AAAA") == 1);
  CHECK(std::count(queries.begin(), queries.end(), "xn--bcher-kva.test. A") == 1);
}

TEST_CASE("an unknown name fails its page at once, not as a transient failure", "[crawl][net][dns]") {
  TestDns dns({"--answer", "site.test=127.0.0.1"});
  auto config = test_config();
  config.dns_servers = {dns.address()};
  config.obey_robots = false;  // else robots.txt's failed lookup speaks first
  TargetConfig target;
  target.name = "missing";
  target.seeds = {"http://missing.test/"};
  auto run = run_crawl(config, target, false);
  CHECK(run.by_path["/"].error == "resolve: host not found");
  CHECK(run.result.progress.retries == 0);
}

TEST_CASE("a DNS server that never answers: a cancel ends the lookup at once", "[crawl][net][dns]") {
  TestDns dns({"--silent", "silent.test"});
  auto config = test_config();
  config.dns_servers = {dns.address()};
  config.connect_timeout_ms = 20'000;  // the lookup would wait this long
  TargetConfig target;
  target.name = "silent";
  target.seeds = {"http://silent.test/"};

  asio::io_context ioc;
  asio::thread_pool pool(1);
  CrawlEngine engine(config, pool);
  CollectingSink sink;
  asio::cancellation_signal cancel;
  std::optional<CrawlResult> result;
  clock_type::time_point emitted, finished;
  asio::co_spawn(ioc, engine.run(CrawlRequest{target, 2024, false}, sink, nullptr),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr error, CrawlResult r) {
                   finished = clock_type::now();
                   if (!error) result = std::move(r);
                 }));
  asio::steady_timer timer(ioc, std::chrono::milliseconds(500));
  timer.async_wait([&](boost::system::error_code) {
    emitted = clock_type::now();
    cancel.emit(asio::cancellation_type::terminal);
  });
  const auto started = clock_type::now();
  ioc.run();  // returns only once nothing of the lookup is left on the loop
  REQUIRE(result);
  CHECK(result->outcome == CrawlOutcome::cancelled);
  CHECK(finished - emitted < std::chrono::milliseconds(100));
  CHECK(clock_type::now() - started < std::chrono::seconds(5));
  CHECK_FALSE(dns.queries().empty());  // the lookup was really under way
}

TEST_CASE("a name with several addresses: a refused connect moves on to the next address", "[crawl][net][dns]") {
  TestSite site;  // listens on 127.0.0.1 only
  // ::1 sorts first (RFC 6724: IPv6 loopback before IPv4) and refuses.
  TestDns dns({"--answer", "multi.test=::1", "--answer", "multi.test=127.0.0.1"});
  auto config = test_config();
  config.dns_servers = {dns.address()};
  config.obey_robots = false;
  TargetConfig target;
  target.name = "multi";
  target.seeds = {"http://multi.test:" + std::to_string(site.port()) + "/f.html"};
  auto run = run_crawl(config, target, false);
  CHECK(run.by_path["/f.html"].status == 200);
  CHECK(run.by_path["/f.html"].error.empty());
  CHECK(run.result.progress.retries == 0);  // one fetch, two connects
  auto queries = dns.queries();
  CHECK(std::count(queries.begin(), queries.end(), "multi.test. AAAA") == 1);
}
