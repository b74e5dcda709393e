// Typed configuration of the service, loaded from a JSON file.
//
// Every key is checked when the file is loaded: unknown keys, wrong types and
// out-of-range values are rejected with a ConfigError whose message names the
// key path ("server.port: expected integer 0-65535, got \"abc\""), so a bad
// deployment fails at start-up instead of misbehaving later.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace crawld {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_header_bytes = 8 * std::size_t{1024};
  std::size_t max_body_bytes = 64 * std::size_t{1024};
  std::uint32_t request_timeout_ms = 10'000;
  std::uint32_t idle_timeout_ms = 30'000;
  std::size_t max_connections = 1024;
  std::uint32_t shutdown_grace_s = 10;
  // Lingering close after an answer sent before the request was read whole
  // (413, 431, 400): keep reading and discarding for at most this long and
  // this many bytes, so that a client still sending can read the answer.
  std::uint32_t linger_ms = 5'000;
  std::size_t linger_max_bytes = 64 * std::size_t{1024} * 1024;
  // Event streams (text/event-stream): at most this many open at once
  // (beyond it 503), a comment sent after this long without an event, and
  // a client dropped once this much of its stream waits unsent.
  std::size_t max_streams = 256;
  std::uint32_t stream_heartbeat_ms = 15'000;
  std::size_t max_stream_buffer_bytes = 256 * std::size_t{1024};
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error
  std::string format = "text";  // text or json
  std::string file;             // empty: standard error
  bool access_log = true;
  std::uint32_t flush_ms = 1000;  // the access log's lines written at most this late; 0: at once
};

struct TargetConfig {
  std::string name;
  std::vector<std::string> seeds;          // URL templates, "{season}" replaced
  std::vector<std::string> allowed_hosts;  // empty in the file: the seeds' hosts
  std::uint32_t shallow_depth = 0;
  std::uint32_t deep_depth = 3;
  std::uint32_t max_pages = 10'000;
  bool sitemaps = false;  // read the seed hosts' robots.txt Sitemap lines and /sitemap.xml
};

struct CrawlConfig {
  std::int64_t current_season = 2024;
  std::int64_t min_season = 1900;
  std::int64_t max_season = 2100;
  std::uint32_t concurrency = 16;
  std::uint32_t per_host_concurrency = 4;
  std::uint32_t per_host_delay_ms = 0;
  std::string user_agent;  // empty: "crawld/VERSION (+https://github.com/crawld/crawld)"
  bool obey_robots = true;
  std::uint32_t robots_cache_s = 600;  // a host's robots.txt is read again after this; 0: by every crawl
  bool allow_private_networks = false;
  std::uint32_t max_redirects = 5;
  std::size_t max_body_bytes = std::size_t{2} * 1024 * 1024;
  std::uint32_t connect_timeout_ms = 5'000;
  std::uint32_t request_timeout_ms = 15'000;
  bool tls_verify = true;
  std::string tls_ca_file;  // extra CA bundle; empty: the system store only
  std::uint32_t max_idle_connections_per_host = 4;
  std::uint32_t compute_threads = 0;  // 0: cores - 1, at least 1
  // Transient failures (connect errors, timeouts, 429, 502, 503, 504) are
  // tried again, after an exponential backoff with full jitter from
  // retry_backoff_ms, or after Retry-After (at most max_retry_after_s).
  std::uint32_t max_retries = 2;
  std::uint32_t retry_backoff_ms = 500;
  std::uint32_t max_retry_after_s = 120;
  // AutoThrottle's rule: a host's delay tends to its latency divided by
  // adaptive_concurrency, never below per_host_delay_ms or Crawl-delay.
  bool adaptive_delay = false;
  std::uint32_t adaptive_concurrency = 1;
  // A host that fails this often in a row is given up for the job (0: never).
  std::uint32_t host_failure_limit = 10;
  // Name servers ("ip" or "ip:port", IPv6 as "[ip]:port"); empty: /etc/resolv.conf.
  std::vector<std::string> dns_servers;
  // A crawl's queued URLs beyond this many bytes of memory are spilled to a
  // folder of its own under spool_dir (empty: the system's temporary folder
  // + "/crawld-spool") and read back in order.
  std::size_t frontier_memory_bytes = std::size_t{32} * 1024 * 1024;
  std::string spool_dir;
  std::vector<TargetConfig> targets;

  const TargetConfig* find_target(const std::string& name) const;
  std::string effective_user_agent() const;
  std::string effective_spool_dir() const;
};

struct JobsConfig {
  std::uint32_t max_running = 4;
  std::uint32_t max_queued = 100;
  std::uint32_t default_timeout_s = 300;
  std::uint32_t max_timeout_s = 3600;
  std::uint32_t hard_kill_grace_ms = 2'000;
  std::string on_duplicate = "reject";  // reject, queue, allow
  std::uint32_t history = 1'000;
  std::uint32_t idempotency_ttl_s = 24 * 3600;
  // A job's crawl events beyond this many are counted, not kept: one summary
  // event at its end says how many were dropped.
  std::uint32_t max_events_per_job = 10'000;
};

struct DatabaseConfig {
  std::string url;  // empty: no database (jobs are kept in memory only)
  std::uint32_t threads = 2;
  std::size_t max_backlog_rows = 100'000;
  std::uint32_t batch_rows = 500;
  std::uint32_t flush_ms = 200;
  std::uint32_t statement_timeout_ms = 5'000;
  std::uint32_t read_timeout_ms = 2'000;
  std::string instance_id;  // empty: host name + ":" + port
};

// Several instances sharing one PostgreSQL (README "Running several
// instances"). Off: the standalone service.
struct ClusterConfig {
  bool enabled = false;
  std::uint32_t heartbeat_ms = 2'000;  // leases renewed this often
  std::uint32_t lease_ms = 10'000;     // a job whose lease is older is rescued
  std::uint32_t poll_ms = 1'000;       // claims and cancels looked for at least this often
  std::uint32_t max_attempts = 2;      // a job rescued this often is interrupted

  // A heartbeat renews the leases with less than this left: those renewed
  // (or claimed) half a heartbeat ago or more, so each is renewed by every
  // heartbeat after the one that left it alone. A lease it leaves alone has
  // at least this long to run from the heartbeat on.
  std::uint32_t renew_within_ms() const { return lease_ms - heartbeat_ms / 2; }
  // An owner that gets no heartbeat through for this long gives up its
  // crawls: a quarter heartbeat before the least lease its last heartbeat
  // left may run out and another instance rescue the job.
  std::uint32_t give_up_ms() const { return renew_within_ms() - heartbeat_ms / 4; }
};

struct AuthConfig {
  std::vector<std::string> tokens;
  bool protect_reads = false;
  bool public_metrics = true;
};

// An operator's webhook: job state changes POSTed to `url`, signed with
// `secret` the way the Standard Webhooks specification does it.
struct WebhookConfig {
  std::string url;                  // http(s); a private address only with crawl.allow_private_networks
  std::vector<std::string> events;  // job.queued, job.started, ...; empty in the file: every event
  std::string secret;               // "whsec_" + base64 of 24-64 random bytes
};

// The event names a webhook may ask for.
inline constexpr const char* webhook_events[] = {"job.queued",    "job.started",   "job.succeeded",  "job.failed",
                                                 "job.cancelled", "job.timed_out", "job.interrupted"};

struct Config {
  ServerConfig server;
  LogConfig log;
  CrawlConfig crawl;
  JobsConfig jobs;
  DatabaseConfig database;
  ClusterConfig cluster;
  AuthConfig auth;
  std::vector<WebhookConfig> webhooks;
  std::uint32_t webhooks_max_age_s = 24 * 3600;  // a delivery is retried this long after its event
  std::uint32_t webhooks_retry_ms = 5'000;       // the first retry's delay; doubled each time, up to an hour
};

// Parses and validates a configuration document. Throws ConfigError.
Config parse_config(const std::string& json_text);

// Reads and parses a file. Throws ConfigError (also for unreadable files).
Config load_config_file(const std::string& path);

// Applies CRAWLD_* environment overrides; throws ConfigError on bad values.
void apply_env_overrides(Config& config);

// Checks rules that span several keys (called by parse_config and again after
// overrides). Throws ConfigError.
void validate_config(Config& config);
// What only the whole configuration (file, environment and command line
// together) can satisfy, e.g. cluster mode's database. Throws ConfigError.
void validate_complete(const Config& config);

}  // namespace crawld
