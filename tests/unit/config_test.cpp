#include "crawld/config.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <unistd.h>

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;
using crawld::Config;
using crawld::ConfigError;
using crawld::parse_config;

namespace {

// The message parse_config throws for `text`, or "(no error)".
std::string error_of(const std::string& text) {
  try {
    parse_config(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

constexpr const char* one_target = R"({"name": "league", "seeds": ["https://example.org/{season}"]})";

std::string with_targets(const std::string& targets) { return R"({"crawl": {"targets": [)" + targets + "]}}"; }

// Sets an environment variable for the lifetime of the object.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~EnvVar() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The variables apply_env_overrides reads, cleared so the host's
// environment cannot change a test's outcome.
void clear_crawld_env() {
  for (const char* name :
       {"CRAWLD_LISTEN", "CRAWLD_PORT", "CRAWLD_DATABASE_URL", "CRAWLD_LOG_LEVEL", "CRAWLD_API_TOKEN"}) {
    ::unsetenv(name);
  }
}

std::string env_error_of(Config& config) {
  try {
    crawld::apply_env_overrides(config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("an empty document gives the documented defaults", "[config]") {
  Config c = parse_config("{}");
  CHECK(c.server.listen == "127.0.0.1");
  CHECK(c.server.port == 8080);
  CHECK(c.server.max_header_bytes == 8 * 1024);
  CHECK(c.server.max_body_bytes == 64 * 1024);
  CHECK(c.server.request_timeout_ms == 10'000);
  CHECK(c.server.idle_timeout_ms == 30'000);
  CHECK(c.server.max_connections == 1024);
  CHECK(c.log.level == "info");
  CHECK(c.log.format == "text");
  CHECK(c.log.access_log);
  CHECK(c.log.flush_ms == 1000);
  CHECK(c.crawl.targets.empty());
  CHECK(c.crawl.current_season == 2024);
  CHECK(c.crawl.robots_cache_s == 600);
  CHECK(c.crawl.frontier_memory_bytes == 32 * 1024 * 1024);
  CHECK(c.crawl.spool_dir.empty());
  CHECK(c.crawl.effective_spool_dir() == (std::filesystem::temp_directory_path() / "crawld-spool").string());
  CHECK(parse_config(R"({"crawl": {"spool_dir": "/srv/spool"}})").crawl.effective_spool_dir() == "/srv/spool");
  CHECK(c.jobs.on_duplicate == "reject");
  CHECK(c.jobs.max_events_per_job == 10'000);
  CHECK(c.database.url.empty());
  CHECK(c.auth.tokens.empty());
  CHECK(c.crawl.effective_user_agent() == "crawld/" CRAWLD_VERSION " (+https://github.com/crawld/crawld)");
}

TEST_CASE("values in the file replace the defaults", "[config]") {
  Config c = parse_config(R"({
    "$comment": "documentation is allowed at the top level",
    "server": {"listen": "::1", "port": 0, "max_body_bytes": 0, "request_timeout_ms": 300},
    "log": {"level": "debug", "format": "json", "access_log": false},
    "crawl": {"user_agent": "bot/1", "targets": [
      {"name": "a.b-c_d", "seeds": ["http://x.test/{season}", "https://y.test/"], "allowed_hosts": ["x.test"],
       "shallow_depth": 1, "deep_depth": 1, "max_pages": 5}]},
    "jobs": {"on_duplicate": "queue", "default_timeout_s": 10, "max_timeout_s": 10},
    "database": {"url": "postgresql:///crawld"},
    "auth": {"tokens": ["0123456789abcdef"]}
  })");
  CHECK(c.server.listen == "::1");
  CHECK(c.server.port == 0);
  CHECK(c.server.max_body_bytes == 0);
  CHECK(c.server.request_timeout_ms == 300);
  CHECK(c.log.level == "debug");
  CHECK(c.log.format == "json");
  CHECK_FALSE(c.log.access_log);
  CHECK(c.crawl.effective_user_agent() == "bot/1");
  REQUIRE(c.crawl.targets.size() == 1);
  const auto& t = c.crawl.targets[0];
  CHECK(t.name == "a.b-c_d");
  CHECK(t.seeds.size() == 2);
  CHECK(t.allowed_hosts == std::vector<std::string>{"x.test"});
  CHECK(t.shallow_depth == 1);
  CHECK(t.max_pages == 5);
  CHECK(c.crawl.find_target("a.b-c_d") == &t);
  CHECK(c.crawl.find_target("other") == nullptr);
  CHECK(c.jobs.on_duplicate == "queue");
  CHECK(c.database.url == "postgresql:///crawld");
  CHECK(c.auth.tokens.size() == 1);
}

TEST_CASE("integer bounds are inclusive", "[config]") {
  CHECK(parse_config(R"({"server": {"port": 65535}})").server.port == 65535);
  CHECK(parse_config(R"({"server": {"port": 0}})").server.port == 0);
  CHECK(parse_config(R"({"server": {"max_header_bytes": 1024}})").server.max_header_bytes == 1024);
  CHECK(parse_config(R"({"server": {"max_connections": 1}})").server.max_connections == 1);
  CHECK(parse_config(R"({"crawl": {"robots_cache_s": 0}})").crawl.robots_cache_s == 0);
  CHECK(parse_config(R"({"crawl": {"robots_cache_s": 86400}})").crawl.robots_cache_s == 86'400);
}

TEST_CASE("the message names the key path, the expectation and the value", "[config]") {
  CHECK_THAT(error_of(R"({"server": {"port": "abc"}})"), Equals(R"(server.port: expected integer 0-65535, got "abc")"));
  CHECK_THAT(error_of(R"({"server": {"port": 65536}})"), Equals("server.port: expected integer 0-65535, got 65536"));
  CHECK_THAT(error_of(R"({"server": {"port": -1}})"), Equals("server.port: expected integer 0-65535, got -1"));
  CHECK_THAT(error_of(R"({"server": {"port": 80.5}})"), Equals("server.port: expected integer 0-65535, got 80.5"));
  CHECK_THAT(error_of(R"({"server": {"port": true}})"), Equals("server.port: expected integer 0-65535, got true"));
  CHECK_THAT(error_of(R"({"server": {"port": null}})"), Equals("server.port: expected integer 0-65535, got null"));
  CHECK_THAT(error_of(R"({"server": {"port": 18446744073709551615}})"),
             Equals("server.port: expected integer 0-65535, got 18446744073709551615"));
}

TEST_CASE("unknown keys are rejected at every level", "[config]") {
  CHECK_THAT(error_of(R"({"sever": {}})"), Equals("sever: unknown key"));
  CHECK_THAT(error_of(R"({"server": {"prot": 1}})"), Equals("server.prot: unknown key"));
  CHECK_THAT(error_of(R"({"server": {"$comment": "x"}})"), Equals("server.$comment: unknown key"));
  CHECK_THAT(error_of(R"({"log": {"colour": true}})"), Equals("log.colour: unknown key"));
  CHECK_THAT(error_of(R"({"crawl": {"targetz": []}})"), Equals("crawl.targetz: unknown key"));
  CHECK_THAT(error_of(R"({"jobs": {"max": 1}})"), Equals("jobs.max: unknown key"));
  CHECK_THAT(error_of(R"({"database": {"uri": ""}})"), Equals("database.uri: unknown key"));
  CHECK_THAT(error_of(R"({"auth": {"token": "x"}})"), Equals("auth.token: unknown key"));
  CHECK_THAT(
      error_of(with_targets(std::string(one_target) + R"(, {"name": "b", "seeds": ["http://b.test/"], "depth": 2})")),
      Equals("crawl.targets[1].depth: unknown key"));
}

TEST_CASE("wrong types name the key path", "[config]") {
  CHECK_THAT(error_of(R"({"server": 5})"), Equals("server: expected object, got 5"));
  CHECK_THAT(error_of(R"({"server": []})"), Equals("server: expected object, got []"));
  CHECK_THAT(error_of(R"({"server": {"listen": 127}})"), Equals("server.listen: expected string, got 127"));
  CHECK_THAT(error_of(R"({"log": {"access_log": "yes"}})"), Equals(R"(log.access_log: expected boolean, got "yes")"));
  CHECK_THAT(error_of(R"({"log": {"access_log": 1}})"), Equals("log.access_log: expected boolean, got 1"));
  CHECK_THAT(error_of(R"({"log": {"flush_ms": 70000}})"), Equals("log.flush_ms: expected integer 0-60000, got 70000"));
  CHECK_THAT(error_of(R"({"crawl": {"frontier_memory_bytes": 1000}})"),
             Equals("crawl.frontier_memory_bytes: expected integer 65536-68719476736, got 1000"));
  CHECK_THAT(error_of(R"({"crawl": {"spool_dir": 5}})"), Equals("crawl.spool_dir: expected string, got 5"));
  CHECK_THAT(error_of(R"({"jobs": {"max_events_per_job": 0}})"),
             Equals("jobs.max_events_per_job: expected integer 10-10000000, got 0"));
  CHECK_THAT(error_of(R"({"crawl": {"targets": {}}})"), Equals("crawl.targets: expected array of targets, got {}"));
  CHECK_THAT(error_of(R"({"crawl": {"targets": ["league"]}})"),
             Equals(R"(crawl.targets[0]: expected object, got "league")"));
  CHECK_THAT(error_of(R"({"auth": {"tokens": "0123456789abcdef"}})"),
             Equals(R"(auth.tokens: expected array of strings, got "0123456789abcdef")"));
  CHECK_THAT(error_of(R"({"auth": {"tokens": ["0123456789abcdef", 7]}})"),
             Equals("auth.tokens[1]: expected string, got 7"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/", false]})")),
             Equals("crawl.targets[0].seeds[1]: expected string, got false"));
  CHECK_THAT(error_of(with_targets(R"({"name": 1, "seeds": ["http://a.test/"]})")),
             Equals("crawl.targets[0].name: expected string, got 1"));
}

TEST_CASE("a non-object document is rejected", "[config]") {
  CHECK_THAT(error_of("[]"), Equals("(top level): expected object, got []"));
  CHECK_THAT(error_of("42"), Equals("(top level): expected object, got 42"));
  CHECK_THAT(error_of("null"), Equals("(top level): expected object, got null"));
}

TEST_CASE("long config values are shortened in messages", "[config]") {
  std::string long_value(200, 'x');
  std::string message = error_of(R"({"server": {"port": ")" + long_value + R"("}})");
  CHECK_THAT(message, StartsWith("server.port: expected integer 0-65535, got \"xxx"));
  CHECK_THAT(message, Contains("..."));
  CHECK(message.size() < 120);
}

TEST_CASE("string choices list the allowed values", "[config]") {
  CHECK_THAT(error_of(R"({"log": {"level": "loud"}})"),
             Equals(R"(log.level: expected one of trace, debug, info, warn, error, critical, off, got "loud")"));
  CHECK_THAT(error_of(R"({"log": {"format": "xml"}})"), Equals(R"(log.format: expected one of text, json, got "xml")"));
  CHECK_THAT(error_of(R"({"jobs": {"on_duplicate": "ignore"}})"),
             Equals(R"(jobs.on_duplicate: expected one of reject, queue, allow, got "ignore")"));
}

TEST_CASE("out-of-range values in every section", "[config]") {
  CHECK_THAT(error_of(R"({"server": {"max_header_bytes": 1023}})"),
             Equals("server.max_header_bytes: expected integer 1024-1048576, got 1023"));
  CHECK_THAT(error_of(R"({"server": {"request_timeout_ms": 9}})"),
             Equals("server.request_timeout_ms: expected integer 10-3600000, got 9"));
  CHECK_THAT(error_of(R"({"server": {"max_connections": 0}})"),
             Equals("server.max_connections: expected integer 1-1000000, got 0"));
  CHECK_THAT(error_of(R"({"crawl": {"concurrency": 0}})"), Equals("crawl.concurrency: expected integer 1-1024, got 0"));
  CHECK_THAT(error_of(R"({"crawl": {"robots_cache_s": 86401}})"),
             Equals("crawl.robots_cache_s: expected integer 0-86400, got 86401"));
  CHECK_THAT(error_of(R"({"jobs": {"max_running": 0}})"), Equals("jobs.max_running: expected integer 1-10000, got 0"));
  CHECK_THAT(error_of(R"({"database": {"threads": 65}})"), Equals("database.threads: expected integer 1-64, got 65"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/"], "max_pages": 0})")),
             Equals("crawl.targets[0].max_pages: expected integer 1-10000000, got 0"));
}

TEST_CASE("target rules", "[config]") {
  CHECK_THAT(error_of(with_targets(R"({"seeds": ["http://a.test/"]})")),
             Equals("crawl.targets[0].name: expected a non-empty name"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a b", "seeds": ["http://a.test/"]})")),
             Equals(R"(crawl.targets[0].name: expected letters, digits, '-', '_' or '.', got "a b")"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a"})")),
             Equals("crawl.targets[0].seeds: expected at least one seed URL"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": []})")),
             Equals("crawl.targets[0].seeds: expected at least one seed URL"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/", "ftp://a.test/"]})")),
             Equals(R"(crawl.targets[0].seeds[1]: expected an http:// or https:// URL, got "ftp://a.test/")"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/"], "shallow_depth": 4})")),
             Equals("crawl.targets[0].shallow_depth: must not exceed deep_depth (3)"));
  CHECK_THAT(error_of(with_targets(std::string(one_target) + ", " + one_target)),
             Equals(R"(crawl.targets[1].name: duplicate target name "league")"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/"], "allowed_hosts": ["a.test/x"]})")),
             Equals(R"(crawl.targets[0].allowed_hosts[0]: expected a host name or host:port, got "a.test/x")"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/"], "allowed_hosts": ["a b"]})")),
             Equals(R"(crawl.targets[0].allowed_hosts[0]: expected a host name or host:port, got "a b")"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/"], "allowed_hosts": [""]})")),
             Equals(R"(crawl.targets[0].allowed_hosts[0]: expected a host name or host:port, got "")"));
  CHECK_THAT(error_of(R"({"crawl": {"dns_servers": ["dns.example"]}})"),
             Equals(R"(crawl.dns_servers[0]: expected an IP address with an optional port, got "dns.example")"));
  CHECK_THAT(error_of(R"({"crawl": {"dns_servers": ["127.0.0.1", "10.0.0.1:99999"]}})"),
             Equals(R"(crawl.dns_servers[1]: expected an IP address with an optional port, got "10.0.0.1:99999")"));
  CHECK(error_of(R"({"crawl": {"dns_servers": ["127.0.0.1:5353", "[::1]:53", "::1", "[::1]"]}})") == "(no error)");
  CHECK_THAT(error_of(R"({"crawl": {"max_retries": 11}})"), Equals("crawl.max_retries: expected integer 0-10, got 11"));
  CHECK_THAT(error_of(R"({"crawl": {"retry_backoff_ms": 0}})"),
             Equals("crawl.retry_backoff_ms: expected integer 1-600000, got 0"));
  CHECK_THAT(error_of(R"({"crawl": {"adaptive_delay": "yes"}})"),
             Equals(R"(crawl.adaptive_delay: expected boolean, got "yes")"));
  CHECK_THAT(error_of(with_targets(R"({"name": "a", "seeds": ["http://a.test/"], "deep_depth": 10001})")),
             Equals("crawl.targets[0].deep_depth: expected integer 0-10000, got 10001"));
}

TEST_CASE("allowed hosts are kept as URLs name them", "[config]") {
  Config c = parse_config(with_targets(
      R"({"name": "a", "seeds": ["http://a.test/"], "deep_depth": 10000,
          "allowed_hosts": ["A.Test", "b\u00fccher.de", "c.test:8080", "d.test:80", "[::1]:9000"]})"));
  const auto& t = c.crawl.targets.at(0);
  CHECK(t.allowed_hosts ==
        std::vector<std::string>{"a.test", "xn--bcher-kva.de", "c.test:8080", "d.test", "[::1]:9000"});
  CHECK(t.deep_depth == 10000);
}

TEST_CASE("rules that span several keys", "[config]") {
  CHECK_THAT(error_of(R"({"crawl": {"min_season": 2000, "max_season": 1999}})"),
             Equals("crawl.min_season: must not exceed crawl.max_season (1999)"));
  CHECK_THAT(error_of(R"({"crawl": {"current_season": 1800}})"),
             Equals("crawl.current_season: expected integer 1900-2100, got 1800"));
  CHECK_THAT(error_of(R"({"crawl": {"min_season": 2030}})"),
             Equals("crawl.current_season: expected integer 2030-2100, got 2024"));
  CHECK_THAT(error_of(R"({"jobs": {"default_timeout_s": 61, "max_timeout_s": 60}})"),
             Equals("jobs.default_timeout_s: must not exceed jobs.max_timeout_s (60)"));
  CHECK_THAT(error_of(R"({"server": {"listen": "localhost"}})"),
             Equals(R"(server.listen: expected an IPv4 or IPv6 address, got "localhost")"));
  CHECK_THAT(error_of(R"({"auth": {"tokens": ["short"]}})"),
             Equals("auth.tokens[0]: expected a token of at least 16 characters"));
}

TEST_CASE("cluster mode: defaults, values and the rules between them", "[config]") {
  auto defaults = parse_config("{}").cluster;
  CHECK_FALSE(defaults.enabled);
  CHECK(defaults.heartbeat_ms == 2000);
  CHECK(defaults.lease_ms == 10000);
  CHECK(defaults.poll_ms == 1000);
  CHECK(defaults.max_attempts == 2);
  // Leases renewed once they have under 9 s left; an owner cut off gives up at 8.5 s.
  CHECK(defaults.renew_within_ms() == 9000);
  CHECK(defaults.give_up_ms() == 8500);
  auto set = parse_config(R"({"cluster": {"enabled": true, "heartbeat_ms": 500, "lease_ms": 1000, "poll_ms": 50,
                                          "max_attempts": 5}, "database": {"url": "postgresql://db/x"}})");
  CHECK(set.cluster.enabled);
  CHECK(set.cluster.heartbeat_ms == 500);
  CHECK(set.cluster.max_attempts == 5);
  CHECK_NOTHROW(crawld::validate_complete(set));
  CHECK_THAT(error_of(R"({"cluster": {"heartbeat_ms": 6000}})"),
             StartsWith("cluster.heartbeat_ms: must be at most half of cluster.lease_ms (10000)"));
  CHECK_THAT(error_of(R"({"cluster": {"max_attempts": 0}})"),
             Equals("cluster.max_attempts: expected integer 1-100, got 0"));
  CHECK_THAT(error_of(R"({"cluster": {"leases": 1}})"), Contains("cluster.leases"));
  // The database may come from the environment: required only of the whole.
  auto without_database = parse_config(R"({"cluster": {"enabled": true}})");
  CHECK_THROWS_WITH(crawld::validate_complete(without_database),
                    StartsWith("cluster.enabled: cluster mode needs a database"));
}

TEST_CASE("invalid JSON names the position of the error", "[config]") {
  CHECK_THAT(error_of(R"({"server": {"port": 80,}})"), StartsWith("invalid JSON: parse error at line 1, column "));
  CHECK_THAT(error_of("{\n  \"server\": {\n    \"port\": 80\n  }"), StartsWith("invalid JSON: parse error at line 4"));
  CHECK_THAT(error_of(""), StartsWith("invalid JSON: "));
  CHECK_THAT(error_of("{} {}"), StartsWith("invalid JSON: "));
  CHECK_THAT(error_of("{\"log\": {\"file\": \"\xff\"}}"), StartsWith("invalid JSON: "));
}

TEST_CASE("numbers JSON cannot represent are a configuration error", "[config]") {
  // nlohmann reports overflowing floats as out_of_range, not parse_error;
  // they must still come out as a ConfigError, never as another exception.
  CHECK_THAT(error_of(R"({"server": {"port": 1e400}})"), Equals("invalid JSON: number overflow parsing '1e400'"));
}

TEST_CASE("load_config_file prefixes the file name", "[config]") {
  std::string path =
      (std::filesystem::temp_directory_path() / ("crawld_config_test_" + std::to_string(::getpid()) + ".json"))
          .string();
  {
    std::ofstream out(path);
    out << R"({"server": {"port": "abc"}})";
  }
  try {
    crawld::load_config_file(path);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Equals(path + R"(: server.port: expected integer 0-65535, got "abc")"));
  }
  {
    std::ofstream out(path);
    out << R"({"server": {"port": 9}})";
  }
  CHECK(crawld::load_config_file(path).server.port == 9);
  std::remove(path.c_str());

  try {
    crawld::load_config_file("/nonexistent/crawld.json");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Equals("/nonexistent/crawld.json: cannot open file"));
  }
}

TEST_CASE("environment overrides", "[config][env]") {
  clear_crawld_env();
  Config config = parse_config("{}");

  SECTION("none set: nothing changes") {
    crawld::apply_env_overrides(config);
    CHECK(config.server.port == 8080);
    CHECK(config.server.listen == "127.0.0.1");
  }
  SECTION("CRAWLD_PORT and CRAWLD_LISTEN replace the file's values") {
    EnvVar port("CRAWLD_PORT", "0");
    EnvVar listen("CRAWLD_LISTEN", "0.0.0.0");
    crawld::apply_env_overrides(config);
    CHECK(config.server.port == 0);
    CHECK(config.server.listen == "0.0.0.0");
  }
  SECTION("empty values are ignored") {
    EnvVar port("CRAWLD_PORT", "");
    EnvVar listen("CRAWLD_LISTEN", "");
    crawld::apply_env_overrides(config);
    CHECK(config.server.port == 8080);
    CHECK(config.server.listen == "127.0.0.1");
  }
  SECTION("bad CRAWLD_PORT values") {
    for (const char* bad : {"abc", "-1", "65536", "80abc", "8080 ", "99999999999999999999999", "1.5"}) {
      INFO("CRAWLD_PORT=" << bad);
      EnvVar port("CRAWLD_PORT", bad);
      Config copy = config;
      CHECK_THAT(env_error_of(copy), Equals(std::string("CRAWLD_PORT: expected integer 0-65535, got \"") + bad + "\""));
      CHECK(copy.server.port == 8080);
    }
  }
  SECTION("CRAWLD_PORT bounds") {
    EnvVar port("CRAWLD_PORT", "65535");
    crawld::apply_env_overrides(config);
    CHECK(config.server.port == 65535);
  }
  SECTION("bad CRAWLD_LISTEN") {
    EnvVar listen("CRAWLD_LISTEN", "not-an-address");
    std::string message = env_error_of(config);
    CHECK_THAT(message, Contains("listen"));
    CHECK_THAT(message, Contains("\"not-an-address\""));
  }
  SECTION("CRAWLD_LOG_LEVEL") {
    {
      EnvVar level("CRAWLD_LOG_LEVEL", "debug");
      crawld::apply_env_overrides(config);
      CHECK(config.log.level == "debug");
    }
    EnvVar level("CRAWLD_LOG_LEVEL", "loud");
    CHECK_THAT(env_error_of(config), Equals(R"(CRAWLD_LOG_LEVEL: unknown level "loud")"));
  }
  SECTION("CRAWLD_API_TOKEN") {
    {
      EnvVar token("CRAWLD_API_TOKEN", "0123456789abcdef");
      crawld::apply_env_overrides(config);
      CHECK(config.auth.tokens == std::vector<std::string>{"0123456789abcdef"});
    }
    EnvVar token("CRAWLD_API_TOKEN", "short");
    CHECK_THAT(env_error_of(config), Equals("CRAWLD_API_TOKEN: expected a token of at least 16 characters"));
  }
  SECTION("CRAWLD_DATABASE_URL") {
    EnvVar url("CRAWLD_DATABASE_URL", "postgresql://db/crawld");
    crawld::apply_env_overrides(config);
    CHECK(config.database.url == "postgresql://db/crawld");
  }
  clear_crawld_env();
}

TEST_CASE("webhooks: URL, events and secret are checked, and private addresses follow the crawl's policy",
          "[config]") {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  auto hook = [&](const std::string& fields) { return R"({"webhooks": [{"secret": ")" + secret + "\", " + fields + "}]}"; };
  auto config = parse_config(hook(R"("url": "https://hooks.example/x", "events": ["job.failed"])") );
  REQUIRE(config.webhooks.size() == 1);
  CHECK(config.webhooks[0].url == "https://hooks.example/x");
  CHECK(config.webhooks[0].events == std::vector<std::string>{"job.failed"});
  CHECK(config.webhooks_max_age_s == 24 * 3600);
  CHECK(config.webhooks_retry_ms == 5000);
  CHECK_THAT(error_of(hook(R"("url": "ftp://x/")")), StartsWith("webhooks[0].url: expected an http:// or https://"));
  CHECK_THAT(error_of(hook(R"("url": "http://x/", "events": ["job.done"])")),
             StartsWith("webhooks[0].events[0]: unknown event \"job.done\""));
  CHECK_THAT(error_of(R"({"webhooks": [{"url": "http://x/", "secret": "abc"}]})"), StartsWith("webhooks[0].secret"));
  // 16 bytes is too short a key.
  CHECK_THAT(error_of(R"({"webhooks": [{"url": "http://x/", "secret": "whsec_AAAAAAAAAAAAAAAAAAAAAA=="}]})"),
             StartsWith("webhooks[0].secret"));
  CHECK_THAT(error_of(R"({"webhooks": [{"url": "http://x/", "secret": ")" + secret + R"("}, {"url": "http://x/", "secret": ")" +
                      secret + R"("}]})"),
             StartsWith("webhooks[1].url: the same URL"));
  CHECK_THAT(error_of(hook(R"("url": "http://10.1.2.3:8080/hook")")),
             StartsWith("webhooks[0].url: a private or loopback address (10.1.2.3)"));
  CHECK_THAT(error_of(hook(R"("url": "http://[::1]/hook")")), Contains("allow_private_networks"));
  auto allowed = parse_config(R"({"crawl": {"allow_private_networks": true}, "webhooks": [{"url": "http://127.0.0.1:9/h", "secret": ")" +
                              secret + R"("}]})");
  CHECK(allowed.webhooks.size() == 1);
  CHECK_THAT(error_of(R"({"webhooks": {}})"), StartsWith("webhooks: expected array"));
  CHECK_THAT(error_of(R"({"webhooks_retry_ms": 0})"), StartsWith("webhooks_retry_ms: expected integer"));
}
