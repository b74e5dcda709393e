#include "crawld/crawl/url.hpp"

#include "url_text.hpp"

#include <boost/url.hpp>

#include <algorithm>
#include <charconv>
#include <vector>

namespace crawld::crawl {
namespace {

namespace urls = boost::urls;

// Longer inputs are not links anyone means to follow (data: blobs, tracking
// payloads); refusing them early keeps the frontier and the database sane.
constexpr std::size_t kMaxInputLength = std::size_t{64} * 1024;
constexpr std::size_t kMaxUrlLength = std::size_t{8} * 1024;

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_unreserved(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

using url_text::append_pct;
using url_text::clean_reference;
using url_text::hex_value;
using url_text::is_pct_triplet;

// RFC 3986 6.2.2.1-2: hex digits upper-case, unreserved characters decoded.
// Reserved ones (%2F, %3F, %26...) stay encoded: decoding them would change
// which resource is meant.
std::string normalize_percent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_pct_triplet(s, i)) {
      const auto c = static_cast<unsigned char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      if (is_unreserved(c)) {
        out += static_cast<char>(c);
      } else {
        append_pct(out, c);
      }
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 3986 5.2.4 for an absolute path, done per segment. Excess ".." stop at
// the root ("/../../x" -> "/x"), as browsers do.
std::string remove_dot_segments(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> kept;
  bool trailing_slash = false;
  std::size_t pos = 0;
  while (true) {
    const auto slash = path.find('/', pos);
    const bool last = slash == std::string_view::npos;
    const auto segment = path.substr(pos, last ? std::string_view::npos : slash - pos);
    if (segment == ".") {
      trailing_slash = last;
    } else if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      trailing_slash = last;
    } else {
      kept.push_back(segment);
      trailing_slash = false;
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    out += kept[i];
  }
  if (trailing_slash && !kept.empty()) out += '/';
  return out;
}

// A URL broken into the parts crawld cares about, already normalized.
struct NormalizedUrl {
  std::string scheme;
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 0;
  std::string target;

  bool default_port() const { return (scheme == "http" && port == 80) || (scheme == "https" && port == 443); }
};

std::string bracketed_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::optional<std::string> normalize_host(const urls::url_view& url) {
  switch (url.host_type()) {
    case urls::host_type::ipv4:
      return url.host_ipv4_address().to_string();
    case urls::host_type::ipv6:
      return url.host_ipv6_address().to_string();
    case urls::host_type::name:
      return url_text::canonical_host(url.encoded_host());
    default:  // no host, or IPvFuture
      return std::nullopt;
  }
}

// http and https only, with their default ports.
bool set_scheme(const urls::url_view& url, NormalizedUrl& result) {
  switch (url.scheme_id()) {
    case urls::scheme::http:
      result.scheme = "http";
      result.port = 80;
      return true;
    case urls::scheme::https:
      result.scheme = "https";
      result.port = 443;
      return true;
    default:
      return false;
  }
}

// An empty port ("http://host:/") means the default one.
bool set_port(std::string_view port, NormalizedUrl& result) {
  if (port.empty()) return true;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return false;
  result.port = static_cast<std::uint16_t>(value);
  return true;
}

// `text` must already be cleaned (see clean_reference) and absolute.
std::optional<NormalizedUrl> normalize_clean(std::string_view text) {
  if (text.size() > kMaxInputLength) return std::nullopt;
  const auto parsed = urls::parse_uri(text);
  if (!parsed) return std::nullopt;
  const urls::url_view& url = *parsed;

  NormalizedUrl result;
  if (!set_scheme(url, result)) return std::nullopt;
  if (!url.has_authority()) return std::nullopt;
  // Boost.URL 1.81 reads "host:8o/" as port 8 and path "o/"; after an
  // authority the path must be empty or start with '/'.
  if (const auto path = url.encoded_path(); !path.empty() && path.front() != '/') return std::nullopt;
  auto host = normalize_host(url);
  if (!host) return std::nullopt;
  result.host = std::move(*host);
  if (!set_port(url.port(), result)) return std::nullopt;

  // Dot segments are removed after decoding so that "/.%2E/" counts as "/../".
  result.target = remove_dot_segments(normalize_percent(url.encoded_path()));
  if (url.has_query()) {
    result.target += '?';
    result.target += normalize_percent(url.encoded_query());
  }
  return result;
}

std::string to_string(const NormalizedUrl& url) {
  std::string out = url.scheme + "://" + bracketed_host(url.host);
  if (!url.default_port()) out += ":" + std::to_string(url.port);
  out += url.target;
  return out;
}

std::optional<std::string> checked_string(const std::optional<NormalizedUrl>& url) {
  if (!url) return std::nullopt;
  auto text = to_string(*url);
  if (text.size() > kMaxUrlLength) return std::nullopt;
  return text;
}

}  // namespace

std::optional<std::string> normalize_url(std::string_view url) {
  if (url.size() > kMaxInputLength) return std::nullopt;
  return checked_string(normalize_clean(clean_reference(url, {})));
}

namespace {

// RFC 3986 5.2.2 for a reference without scheme and authority: its path (and
// query) against the base's.
void append_merged_path(std::string& target, const urls::url_view& b, const urls::url_view& r) {
  const std::string_view ref_path = r.encoded_path();
  if (ref_path.empty()) {
    target += b.encoded_path();
    if (r.has_query()) {
      target += "?" + std::string(r.encoded_query());
    } else if (b.has_query()) {
      target += "?" + std::string(b.encoded_query());
    }
    return;
  }
  if (ref_path.front() == '/') {
    target += ref_path;
  } else {
    // Merge (RFC 3986 5.2.3): the base path up to its last '/'.
    const std::string_view base_path = b.encoded_path();
    const auto slash = base_path.rfind('/');
    if (slash == std::string_view::npos) {
      target += '/';
    } else {
      target += base_path.substr(0, slash + 1);
    }
    target += ref_path;
  }
  if (r.has_query()) target += "?" + std::string(r.encoded_query());
}

}  // namespace

// Resolution follows RFC 3986 5.2.2 by hand over Boost.URL's parsed parts:
// url::resolve in Boost 1.81 keeps excess ".." segments ("/../x") and the
// base's fragment for query-only references, and url::normalize decodes
// %2F, which changes the resource. Parsing itself is left to Boost.URL.
std::optional<std::string> resolve_url(std::string_view base, std::string_view reference) {
  if (base.size() > kMaxInputLength || reference.size() > kMaxInputLength) return std::nullopt;
  const auto base_text = clean_reference(base, {});
  const auto base_parsed = urls::parse_uri(base_text);
  if (!base_parsed || !normalize_clean(base_text)) return std::nullopt;
  const urls::url_view& b = *base_parsed;

  const auto ref_text = clean_reference(reference, b.scheme_id() == urls::scheme::https ? "https" : "http");
  const auto ref_parsed = urls::parse_uri_reference(ref_text);
  if (!ref_parsed) return std::nullopt;
  const urls::url_view& r = *ref_parsed;

  // An absolute reference stands on its own (and is refused unless http(s)).
  if (r.has_scheme()) return normalize_url(ref_text);

  std::string target = std::string(b.scheme()) + ":";
  if (r.has_authority()) {
    target += "//" + std::string(r.encoded_authority()) + std::string(r.encoded_path());
    if (r.has_query()) target += "?" + std::string(r.encoded_query());
    return checked_string(normalize_clean(target));
  }

  target += "//" + std::string(b.encoded_authority());
  append_merged_path(target, b, r);
  return checked_string(normalize_clean(target));
}

std::optional<UrlParts> split_url(std::string_view url) {
  if (url.size() > kMaxInputLength) return std::nullopt;
  auto normalized = normalize_clean(clean_reference(url, {}));
  if (!normalized) return std::nullopt;
  return UrlParts{std::move(normalized->scheme), std::move(normalized->host), normalized->port,
                  std::move(normalized->target)};
}

std::string host_key(const UrlParts& parts) {
  const bool default_port =
      (parts.scheme == "http" && parts.port == 80) || (parts.scheme == "https" && parts.port == 443);
  auto key = bracketed_host(parts.host);
  if (!default_port) key += ":" + std::to_string(parts.port);
  return key;
}

namespace {

// The length of "scheme://authority" when `url` has normalize_url's shape
// there: http(s), a lower-case authority of plain characters without a
// default or empty port, then the path's '/'. Zero otherwise.
std::size_t normalized_origin_length(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!url.starts_with(scheme)) continue;
    const auto path = url.find('/', scheme.size());
    if (path == std::string_view::npos || path == scheme.size()) return 0;
    const auto authority = url.substr(scheme.size(), path - scheme.size());
    const bool plain = std::all_of(authority.begin(), authority.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '[' ||
             c == ']';
    });
    const std::string_view default_port = scheme.size() == 7 ? ":80" : ":443";
    if (!plain || authority.ends_with(':') || authority.ends_with(default_port) ||
        authority.find(":0") != std::string_view::npos) {
      return 0;
    }
    return path;
  }
  return 0;
}

}  // namespace

std::optional<std::string> robots_txt_url(std::string_view url) {
  if (const auto origin = normalized_origin_length(url)) {
    std::string out(url.substr(0, origin));
    out += "/robots.txt";
    return out;
  }
  return resolve_url(url, "/robots.txt");
}

std::optional<UrlKey> url_key(std::string_view url) {
  if (const auto origin = normalized_origin_length(url)) {
    const std::size_t scheme = url.starts_with("https") ? 8 : 7;
    return UrlKey{std::string(url.substr(scheme, origin - scheme)), std::string(url.substr(origin))};
  }
  auto parts = split_url(url);
  if (!parts) return std::nullopt;
  return UrlKey{host_key(*parts), std::move(parts->target)};
}

}  // namespace crawld::crawl
