// URL text as browsers read it (private to src/crawl; url.cpp's first step).
//
// Hrefs in real pages are written for browsers, not for RFC 3986, and
// browsers read them the WHATWG URL Standard's way for http and https. These
// functions repair a reference into text Boost.URL parses as a browser would
// have read it, and read a host the way a browser does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace crawld::crawl::url_text {

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool is_pct_triplet(std::string_view s, std::size_t i) {
  return i + 2 < s.size() && s[i] == '%' && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0;
}

inline void append_pct(std::string& out, unsigned char c) {
  constexpr char hex[] = "0123456789ABCDEF";
  out += '%';
  out += hex[c >> 4];
  out += hex[c & 0xF];
}

inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Offset just past "scheme:" when `s` starts with a scheme, else 0.
std::size_t scheme_end(std::string_view s);

// The reference as a browser reads it, percent-encoded where RFC 3986 wants
// it and ready for Boost.URL's parser:
//   - C0 controls and spaces trimmed, tabs and newlines removed anywhere,
//     the fragment cut (it never reaches the server);
//   - for http(s) and scheme-less references, "\" read as "/" before the
//     query;
//   - "http:foo" relative when `base_scheme` is http too, "http:/x",
//     "http:x" and "https:\\x" otherwise read as "scheme://x";
//   - a relative path whose first segment holds a colon ("(http://x",
//     "a:b" with no valid scheme) read as a path ("./" put in front);
//   - spaces, controls, non-ASCII, a stray "%", and characters RFC 3986
//     does not allow percent-encoded ("[" and "]" outside the authority).
// `base_scheme` is "http", "https", or empty without a base.
std::string clean_reference(std::string_view raw, std::string_view base_scheme);

// True unless `href` names a scheme other than http(s) (mailto:, tel:,
// javascript:, data:...): a link that was meant for a crawler to follow.
bool web_reference(std::string_view href);

// A host name from a URL's authority (percent-encoded, not an IP literal),
// as browsers read it: percent-decoded; non-ASCII names mapped to A-labels
// (UTS #46, non-transitional, with libidn2); IPv4 addresses in any form the
// URL Standard accepts ("0x7f.1", "2130706433", "0177.0.0.1") as dotted
// decimal. Lower-case. Nullopt when it cannot be a DNS name or an address.
std::optional<std::string> canonical_host(std::string_view encoded);

}  // namespace crawld::crawl::url_text
