// The "crawl" object of the configuration: fetching, politeness, retries,
// name servers, and the targets.
#include "config_reader.hpp"

#include "crawld/crawl/url.hpp"
#include "crawld/version.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace crawld {
namespace config_detail {
namespace {

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

}  // namespace

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
  r.integer("frontier_memory_bytes", c.frontier_memory_bytes, 64 * 1024, 64LL * 1024 * 1024 * 1024);
  r.string("spool_dir", c.spool_dir);
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

}  // namespace config_detail

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

std::string CrawlConfig::effective_spool_dir() const {
  if (!spool_dir.empty()) return spool_dir;
  std::error_code ec;
  auto tmp = std::filesystem::temp_directory_path(ec);
  return ((ec ? std::filesystem::path("/tmp") : tmp) / "crawld-spool").string();
}

}  // namespace crawld
