#include "crawld/config.hpp"

#include "config_reader.hpp"
#include "crawld/webhooks/signature.hpp"

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

using config_detail::describe;
using config_detail::fail;
using config_detail::ObjectReader;
using config_detail::read_crawl;
using json = nlohmann::json;

namespace {

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
  r.integer("max_streams", c.max_streams, 0, 1'000'000);
  r.integer("stream_heartbeat_ms", c.stream_heartbeat_ms, 100, 3'600'000);
  r.integer("max_stream_buffer_bytes", c.max_stream_buffer_bytes, 1024, std::int64_t{1024} * 1024 * 1024);
  r.finish();
}

void read_log(const json& j, LogConfig& c) {
  ObjectReader r(j, "log");
  r.string("level", c.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  r.string("format", c.format, {"text", "json"});
  r.string("file", c.file);
  r.boolean("access_log", c.access_log);
  r.integer("flush_ms", c.flush_ms, 0, 60'000);
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
  r.integer("max_events_per_job", c.max_events_per_job, 10, 10'000'000);
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

bool is_webhook_event(const std::string& name) {
  return std::any_of(std::begin(webhook_events), std::end(webhook_events),
                     [&](const char* event) { return name == event; });
}

void read_webhook(const json& j, const std::string& path, WebhookConfig& c) {
  ObjectReader r(j, path);
  r.string("url", c.url);
  r.string_list("events", c.events);
  r.string("secret", c.secret);
  r.finish();
  if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
    fail(path + ".url", "expected an http:// or https:// URL, got \"" + c.url + "\"");
  }
  for (std::size_t i = 0; i < c.events.size(); ++i) {
    if (!is_webhook_event(c.events[i])) {
      fail(path + ".events[" + std::to_string(i) + "]",
           "unknown event \"" + c.events[i] +
               "\" (job.queued, job.started, job.succeeded, job.failed, job.cancelled, job.timed_out, "
               "job.interrupted)");
    }
  }
  if (!webhook_secret_valid(c.secret)) {
    fail(path + ".secret",
         "expected \"whsec_\" and the base64 of 24 to 64 random bytes (e.g. echo whsec_$(openssl rand -base64 32))");
  }
}

void read_webhooks(const json& j, std::vector<WebhookConfig>& out) {
  if (!j.is_array()) fail("webhooks", "expected array of webhooks, got " + describe(j));
  out.clear();
  std::set<std::string> urls;
  for (std::size_t i = 0; i < j.size(); ++i) {
    std::string path = "webhooks[" + std::to_string(i) + "]";
    WebhookConfig webhook;
    read_webhook(j[i], path, webhook);
    // A delivery names its webhook by URL.
    if (!urls.insert(webhook.url).second) fail(path + ".url", "the same URL as an earlier webhook");
    out.push_back(std::move(webhook));
  }
}

}  // namespace

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
  for (std::size_t i = 0; i < config.webhooks.size(); ++i) {
    if (auto why = webhook_address_refused(config.webhooks[i].url, crawl.allow_private_networks)) {
      fail("webhooks[" + std::to_string(i) + "].url", *why);
    }
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
  if (const json* v = top.find("webhooks")) read_webhooks(*v, config.webhooks);
  top.integer("webhooks_max_age_s", config.webhooks_max_age_s, 1, std::int64_t{30} * 86400);
  top.integer("webhooks_retry_ms", config.webhooks_retry_ms, 10, 3'600'000);
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
