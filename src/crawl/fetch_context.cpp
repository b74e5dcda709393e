#include "crawld/crawl/fetcher.hpp"

#include "dns.hpp"

#include <algorithm>

namespace crawld::crawl {

namespace {

namespace ssl = boost::asio::ssl;
using error_code = boost::system::error_code;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

ContentType parse_content_type(std::string_view value) {
  ContentType out;
  auto semicolon = value.find(';');
  out.media_type = lower(trim(value.substr(0, semicolon)));
  while (semicolon != std::string_view::npos) {
    value.remove_prefix(semicolon + 1);
    semicolon = value.find(';');
    auto parameter = trim(value.substr(0, semicolon));
    auto equals = parameter.find('=');
    if (equals == std::string_view::npos) continue;
    if (lower(trim(parameter.substr(0, equals))) != "charset") continue;
    auto charset = trim(parameter.substr(equals + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    out.charset = lower(charset);
    break;
  }
  return out;
}

FetchContext::FetchContext(const CrawlConfig& config)
    : config_(config),
      user_agent_(config.effective_user_agent()),
      tls_(ssl::context::tls_client),
      dns_cache_(std::make_unique<DnsCache>()) {
  for (const auto& server : config_.dns_servers) {
    if (!dns_servers_.empty()) dns_servers_ += ',';
    dns_servers_ += server;
  }
  tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
  error_code ec;
  tls_.set_default_verify_paths(ec);  // a missing system store only means fewer trusted roots
  if (!config_.tls_ca_file.empty()) {
    tls_.load_verify_file(config_.tls_ca_file, ec);
    if (ec) throw ConfigError("crawl.tls_ca_file: cannot load \"" + config_.tls_ca_file + "\": " + ec.message());
  }
  tls_.set_verify_mode(config_.tls_verify ? ssl::verify_peer : ssl::verify_none);
}

FetchContext::~FetchContext() = default;

}  // namespace crawld::crawl
