// URL resolution and normalization for the crawl frontier (Boost.URL).
//
// The frontier de-duplicates on the normalized form, so two spellings of one
// page ("HTTP://Example.com:80/a/./b#x" and "http://example.com/a/b") must
// normalize to the same string. Only http and https URLs are accepted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crawld::crawl {

// Normalizes an absolute http(s) URL: scheme and host lower-case, default
// port dropped, fragment dropped, dot-segments removed, empty path -> "/",
// percent-encoding normalized (unreserved characters decoded, hex digits
// upper-case; reserved ones such as %2F stay encoded). Returns nullopt for
// anything that is not an absolute http(s) URL with a DNS-like host or an IP
// literal, and for results longer than 8 KiB.
//
// Input is first read the way browsers read http(s) URLs (the WHATWG URL
// Standard): surrounding whitespace and control characters trimmed,
// tabs/newlines removed, "\" as "/", any number of slashes after "http:",
// spaces, non-ASCII bytes and stray '%' percent-encoded; host names
// percent-decoded, international ones mapped to A-labels (UTS #46), IPv4
// numbers in hex, octal or short forms written as dotted decimal. User
// information ("user:pw@") is dropped.
// The query is kept in order; an empty "?" is kept. The result is a fixed
// point: normalize_url(*normalize_url(x)) == normalize_url(x).
std::optional<std::string> normalize_url(std::string_view url);

// Resolves `reference` (as found in an href) against the absolute `base` and
// normalizes the result, as a browser would: "http:foo" against an http base
// is relative, and so is a path whose first segment holds a colon
// ("(http://x/y" is a path). Returns nullopt for invalid references and for
// non-http(s) results (mailto:, javascript:, ftp:, data:, ...). A
// fragment-only reference ("#top") resolves to the base page itself.
std::optional<std::string> resolve_url(std::string_view base, std::string_view reference);

// For normalize_url's output (every URL a crawl queues), read off the text
// without parsing it again; anything else is parsed as split_url does.
// The robots.txt URL of the URL's origin, as resolve_url(url, "/robots.txt").
std::optional<std::string> robots_txt_url(std::string_view url);
// host_key() and the target of the URL, as split_url gives them.
struct UrlKey {
  std::string host;    // host_key()
  std::string target;  // path + "?" + query
};
std::optional<UrlKey> url_key(std::string_view url);

// The pieces of a normalized URL that the fetcher needs. Any absolute http(s)
// URL is accepted and normalized first.
struct UrlParts {
  std::string scheme;      // "http" or "https"
  std::string host;        // lower-case, IPv6 literal without brackets
  std::uint16_t port = 0;  // always set (80/443 when the URL has none)
  std::string target;      // path + "?" + query, at least "/"
};
std::optional<UrlParts> split_url(std::string_view url);

// "host" or "host:port" when the port is not the scheme's default: the key
// used for allowed_hosts and per-host limits. IPv6 hosts are bracketed
// ("[::1]", "[::1]:8080"), as in a URL.
std::string host_key(const UrlParts& parts);

}  // namespace crawld::crawl
