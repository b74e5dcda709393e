#include "crawld/config.hpp"

#include "crawld/crawl/url.hpp"
#include "crawld/version.hpp"

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace crawld {
namespace {

using json = nlohmann::json;

std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw ConfigError(path + ": " + message);
}

// Walks one JSON object, remembering which keys were read so that unknown
// keys (usually typos) can be rejected instead of silently ignored.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) fail(path_.empty() ? "(top level)" : path_, "expected object, got " + describe(object_));
  }

  std::string path_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const json* find(const std::string& key) {
    seen_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  template <class Int>
  void integer(const std::string& key, Int& out, std::int64_t min, std::int64_t max) {
    const json* value = find(key);
    if (value == nullptr) return;
    bool ok = value->is_number_integer();
    std::int64_t n = 0;
    if (ok && value->is_number_unsigned()) {
      auto u = value->get<std::uint64_t>();
      ok = u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      n = static_cast<std::int64_t>(u);
    } else if (ok) {
      n = value->get<std::int64_t>();
    }
    if (!ok || n < min || n > max) {
      fail(path_of(key),
           "expected integer " + std::to_string(min) + "-" + std::to_string(max) + ", got " + describe(*value));
    }
    out = static_cast<Int>(n);
  }

  void boolean(const std::string& key, bool& out) {
    const json* value = find(key);
    if (value == nullptr) return;
    if (!value->is_boolean()) fail(path_of(key), "expected boolean, got " + describe(*value));
    out = value->get<bool>();
  }

  void string(const std::string& key, std::string& out, std::initializer_list<const char*> allowed = {}) {
    const json* value = find(key);
    if (value == nullptr) return;
    if (!value->is_string()) fail(path_of(key), "expected string, got " + describe(*value));
    auto text = value->get<std::string>();
    if (allowed.size() != 0) {
      std::string choices;
      for (const char* choice : allowed) {
        if (text == choice) {
          out = text;
          return;
        }
        choices += choices.empty() ? "" : ", ";
        choices += choice;
      }
      fail(path_of(key), "expected one of " + choices + ", got " + describe(*value));
    }
    out = std::move(text);
  }

  void string_list(const std::string& key, std::vector<std::string>& out) {
    const json* value = find(key);
    if (value == nullptr) return;
    if (!value->is_array()) fail(path_of(key), "expected array of strings, got " + describe(*value));
    out.clear();
    for (std::size_t i = 0; i < value->size(); ++i) {
      const json& item = (*value)[i];
      if (!item.is_string()) {
        fail(path_of(key) + "[" + std::to_string(i) + "]", "expected string, got " + describe(item));
      }
      out.push_back(item.get<std::string>());
    }
  }

  // Every key present must have been read.
  void finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (!seen_.contains(key)) fail(path_of(key), "unknown key");
    }
  }

 private:
  const json& object_;
  std::string path_;
  std::set<std::string> seen_;
};

constexpr std::int64_t u32_max = std::numeric_limits<std::uint32_t>::max();

void read_server(const json& j, ServerConfig& c) {
  ObjectReader r(j, "server");
  r.string("listen", c.listen);
  r.integer("port", c.port, 0, 65535);
  r.integer("max_header_bytes", c.max_header_bytes, 1024, std::int64_t{1024} * 1024);
  r.integer("max_body_bytes", c.max_body_bytes, 0, std::int64_t{64} * 1024 * 1024);
  r.integer("request_timeout_ms", c.request_timeout_ms, 10, 3'600'000);
  r.integer("idle_timeout_ms", c.idle_timeout_ms, 10, 3'600'000);
  r.integer("max_connections", c.max_connections, 1, 1'000'000);
  r.integer("shutdown_grace_s", c.shutdown_grace_s, 0, 3600);
  r.integer("linger_ms", c.linger_ms, 0, 60'000);
  r.integer("linger_max_bytes", c.linger_max_bytes, 0, std::int64_t{1024} * 1024 * 1024);
  r.finish();
}

void read_log(const json& j, LogConfig& c) {
  ObjectReader r(j, "log");
  r.string("level", c.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  r.string("format", c.format, {"text", "json"});
  r.string("file", c.file);
  r.boolean("access_log", c.access_log);
  r.finish();
}

// Hosts are compared as URLs name them: lower-case, A-labels for
// international names ("bücher.de" is "xn--bcher-kva.de"), no default port.
void canonicalize_hosts(const std::string& path, std::vector<std::string>& hosts) {
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    auto& host = hosts[i];
    const auto url = crawl::normalize_url("http://" + host + "/");
    const auto key = url ? crawl::url_key(*url) : std::nullopt;
    if (!key || key->target != "/" || host.find_first_of("/?#@") != std::string::npos) {
      fail(path + ".allowed_hosts[" + std::to_string(i) + "]",
           "expected a host name or host:port, got \"" + host + "\"");
    }
    host = key->host;
  }
}

void read_target(const json& j, const std::string& path, TargetConfig& t) {
  ObjectReader r(j, path);
  r.string("name", t.name);
  r.string_list("seeds", t.seeds);
  r.string_list("allowed_hosts", t.allowed_hosts);
  r.integer("shallow_depth", t.shallow_depth, 0, 10'000);
  r.integer("deep_depth", t.deep_depth, 0, 10'000);
  r.integer("max_pages", t.max_pages, 1, 10'000'000);
  r.boolean("sitemaps", t.sitemaps);
  r.finish();
  if (t.name.empty()) fail(path + ".name", "expected a non-empty name");
  for (char ch : t.name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      fail(path + ".name", "expected letters, digits, '-', '_' or '.', got \"" + t.name + "\"");
    }
  }
  if (t.seeds.empty()) fail(path + ".seeds", "expected at least one seed URL");
  for (std::size_t i = 0; i < t.seeds.size(); ++i) {
    const auto& seed = t.seeds[i];
    if (seed.rfind("http://", 0) != 0 && seed.rfind("https://", 0) != 0) {
      fail(path + ".seeds[" + std::to_string(i) + "]", "expected an http:// or https:// URL, got \"" + seed + "\"");
    }
  }
  canonicalize_hosts(path, t.allowed_hosts);
  if (t.shallow_depth > t.deep_depth) {
    fail(path + ".shallow_depth", "must not exceed deep_depth (" + std::to_string(t.deep_depth) + ")");
  }
}

// "ip", "ip:port", "[ipv6]" or "[ipv6]:port", as c-ares reads them.
void check_dns_server(const std::string& server, std::size_t i) {
  std::string address = server;
  std::string port;
  if (!server.empty() && server.front() == '[') {
    const auto close = server.find(']');
    address = close == std::string::npos ? "" : server.substr(1, close - 1);
    if (close != std::string::npos && close + 1 < server.size()) {
      port = server[close + 1] == ':' ? server.substr(close + 2) : "x";
    }
  } else if (std::count(server.begin(), server.end(), ':') == 1) {
    address = server.substr(0, server.find(':'));
    port = server.substr(server.find(':') + 1);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(address, ec);
  const bool port_ok = port.empty() || (port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit) &&
                                        std::stoi(port) > 0 && std::stoi(port) <= 65535);
  if (ec || !port_ok) {
    fail("crawl.dns_servers[" + std::to_string(i) + "]",
         "expected an IP address with an optional port, got \"" + server + "\"");
  }
}

// Retries, politeness that adapts, hosts given up, name servers.
void read_crawl_resilience(ObjectReader& r, CrawlConfig& c) {
  r.integer("max_retries", c.max_retries, 0, 10);
  r.integer("retry_backoff_ms", c.retry_backoff_ms, 1, 600'000);
  r.integer("max_retry_after_s", c.max_retry_after_s, 0, 86'400);
  r.boolean("adaptive_delay", c.adaptive_delay);
  r.integer("adaptive_concurrency", c.adaptive_concurrency, 1, 256);
  r.integer("host_failure_limit", c.host_failure_limit, 0, 1'000'000);
  r.string_list("dns_servers", c.dns_servers);
  for (std::size_t i = 0; i < c.dns_servers.size(); ++i) check_dns_server(c.dns_servers[i], i);
}

void read_crawl(const json& j, CrawlConfig& c) {
  ObjectReader r(j, "crawl");
  r.integer("current_season", c.current_season, -1'000'000, 1'000'000);
  r.integer("min_season", c.min_season, -1'000'000, 1'000'000);
  r.integer("max_season", c.max_season, -1'000'000, 1'000'000);
  r.integer("concurrency", c.concurrency, 1, 1024);
  r.integer("per_host_concurrency", c.per_host_concurrency, 1, 256);
  r.integer("per_host_delay_ms", c.per_host_delay_ms, 0, 600'000);
  r.string("user_agent", c.user_agent);
  r.boolean("obey_robots", c.obey_robots);
  r.integer("robots_cache_s", c.robots_cache_s, 0, 86'400);
  r.boolean("allow_private_networks", c.allow_private_networks);
  r.integer("max_redirects", c.max_redirects, 0, 50);
  r.integer("max_body_bytes", c.max_body_bytes, 1024, 1024LL * 1024 * 1024);
  r.integer("connect_timeout_ms", c.connect_timeout_ms, 10, 600'000);
  r.integer("request_timeout_ms", c.request_timeout_ms, 10, 3'600'000);
  r.boolean("tls_verify", c.tls_verify);
  r.string("tls_ca_file", c.tls_ca_file);
  r.integer("max_idle_connections_per_host", c.max_idle_connections_per_host, 0, 256);
  r.integer("compute_threads", c.compute_threads, 0, 256);
  read_crawl_resilience(r, c);
  if (const json* targets = r.find("targets")) {
    if (!targets->is_array()) fail("crawl.targets", "expected array of targets, got " + describe(*targets));
    c.targets.clear();
    std::set<std::string> names;
    for (std::size_t i = 0; i < targets->size(); ++i) {
      std::string path = "crawl.targets[" + std::to_string(i) + "]";
      TargetConfig target;
      read_target((*targets)[i], path, target);
      if (!names.insert(target.name).second) fail(path + ".name", "duplicate target name \"" + target.name + "\"");
      c.targets.push_back(std::move(target));
    }
  }
  r.finish();
}

void read_jobs(const json& j, JobsConfig& c) {
  ObjectReader r(j, "jobs");
  r.integer("max_running", c.max_running, 1, 10'000);
  r.integer("max_queued", c.max_queued, 0, 1'000'000);
  r.integer("default_timeout_s", c.default_timeout_s, 1, std::int64_t{7} * 86400);
  r.integer("max_timeout_s", c.max_timeout_s, 1, std::int64_t{7} * 86400);
  r.integer("hard_kill_grace_ms", c.hard_kill_grace_ms, 0, 600'000);
  r.string("on_duplicate", c.on_duplicate, {"reject", "queue", "allow"});
  r.integer("history", c.history, 0, 1'000'000);
  r.integer("idempotency_ttl_s", c.idempotency_ttl_s, 1, std::int64_t{30} * 86400);
  r.finish();
}

void read_database(const json& j, DatabaseConfig& c) {
  ObjectReader r(j, "database");
  r.string("url", c.url);
  r.integer("threads", c.threads, 1, 64);
  r.integer("max_backlog_rows", c.max_backlog_rows, 1, 100'000'000);
  r.integer("batch_rows", c.batch_rows, 1, 100'000);
  r.integer("flush_ms", c.flush_ms, 1, 60'000);
  r.integer("statement_timeout_ms", c.statement_timeout_ms, 100, 3'600'000);
  r.integer("read_timeout_ms", c.read_timeout_ms, 100, 600'000);
  r.string("instance_id", c.instance_id);
  r.finish();
}

void read_cluster(const json& j, ClusterConfig& c) {
  ObjectReader r(j, "cluster");
  r.boolean("enabled", c.enabled);
  r.integer("heartbeat_ms", c.heartbeat_ms, 50, 600'000);
  r.integer("lease_ms", c.lease_ms, 200, 3'600'000);
  r.integer("poll_ms", c.poll_ms, 10, 600'000);
  r.integer("max_attempts", c.max_attempts, 1, 100);
  r.finish();
}

void read_auth(const json& j, AuthConfig& c) {
  ObjectReader r(j, "auth");
  r.string_list("tokens", c.tokens);
  r.boolean("protect_reads", c.protect_reads);
  r.boolean("public_metrics", c.public_metrics);
  r.finish();
  for (std::size_t i = 0; i < c.tokens.size(); ++i) {
    if (c.tokens[i].size() < 16) {
      fail("auth.tokens[" + std::to_string(i) + "]", "expected a token of at least 16 characters");
    }
  }
}

}  // namespace

const TargetConfig* CrawlConfig::find_target(const std::string& name) const {
  for (const auto& target : targets) {
    if (target.name == name) return &target;
  }
  return nullptr;
}

std::string CrawlConfig::effective_user_agent() const {
  if (!user_agent.empty()) return user_agent;
  return "crawld/" + std::string(version) + " (+https://github.com/crawld/crawld)";
}

void validate_config(Config& config) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(config.server.listen, ec);
  if (ec) fail("server.listen", "expected an IPv4 or IPv6 address, got \"" + config.server.listen + "\"");
  const auto& crawl = config.crawl;
  if (crawl.min_season > crawl.max_season) {
    fail("crawl.min_season", "must not exceed crawl.max_season (" + std::to_string(crawl.max_season) + ")");
  }
  if (crawl.current_season < crawl.min_season || crawl.current_season > crawl.max_season) {
    fail("crawl.current_season", "expected integer " + std::to_string(crawl.min_season) + "-" +
                                     std::to_string(crawl.max_season) + ", got " +
                                     std::to_string(crawl.current_season));
  }
  const auto& cluster = config.cluster;
  if (cluster.heartbeat_ms * 2 > cluster.lease_ms) {
    fail("cluster.heartbeat_ms", "must be at most half of cluster.lease_ms (" + std::to_string(cluster.lease_ms) +
                                     "), or one late heartbeat loses every job");
  }
  if (config.jobs.default_timeout_s > config.jobs.max_timeout_s) {
    fail("jobs.default_timeout_s",
         "must not exceed jobs.max_timeout_s (" + std::to_string(config.jobs.max_timeout_s) + ")");
  }
}

void validate_complete(const Config& config) {
  if (config.cluster.enabled && config.database.url.empty()) {
    fail("cluster.enabled", "cluster mode needs a database: set database.url or CRAWLD_DATABASE_URL");
  }
}

Config parse_config(const std::string& json_text) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& e) {
    // parse_error for syntax (its message names the line and column), and
    // out_of_range for numbers too large for a double (1e400). The
    // "[json.exception.x.n] " prefix means nothing to an operator.
    std::string what = e.what();
    auto pos = what.find("] ");
    throw ConfigError("invalid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
  Config config;
  ObjectReader top(document, "");
  if (const json* v = top.find("server")) read_server(*v, config.server);
  if (const json* v = top.find("log")) read_log(*v, config.log);
  if (const json* v = top.find("crawl")) read_crawl(*v, config.crawl);
  if (const json* v = top.find("jobs")) read_jobs(*v, config.jobs);
  if (const json* v = top.find("database")) read_database(*v, config.database);
  if (const json* v = top.find("cluster")) read_cluster(*v, config.cluster);
  if (const json* v = top.find("auth")) read_auth(*v, config.auth);
  top.find("$comment");  // documentation inside the file is allowed
  top.finish();
  validate_config(config);
  return config;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open file");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse_config(text.str());
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

void apply_env_overrides(Config& config) {
  if (const char* v = std::getenv("CRAWLD_LISTEN"); v && *v) config.server.listen = v;
  if (const char* v = std::getenv("CRAWLD_PORT"); v && *v) {
    char* end = nullptr;
    long port = std::strtol(v, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
      throw ConfigError(std::string("CRAWLD_PORT: expected integer 0-65535, got \"") + v + "\"");
    }
    config.server.port = static_cast<std::uint16_t>(port);
  }
  if (const char* v = std::getenv("CRAWLD_DATABASE_URL"); v && *v) config.database.url = v;
  if (const char* v = std::getenv("CRAWLD_LOG_LEVEL"); v && *v) {
    static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.contains(v)) throw ConfigError(std::string("CRAWLD_LOG_LEVEL: unknown level \"") + v + "\"");
    config.log.level = v;
  }
  if (const char* v = std::getenv("CRAWLD_API_TOKEN"); v && *v) {
    if (std::string(v).size() < 16) throw ConfigError("CRAWLD_API_TOKEN: expected a token of at least 16 characters");
    config.auth.tokens.emplace_back(v);
  }
  validate_config(config);
}

}  // namespace crawld
