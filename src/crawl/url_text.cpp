#include "url_text.hpp"

#include <idn2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace crawld::crawl::url_text {
namespace {

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

// Trims C0 controls and spaces, cuts the fragment, and drops tabs and
// newlines anywhere (markup wraps long hrefs).
std::string strip_reference(std::string_view raw) {
  auto is_c0_or_space = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  while (!raw.empty() && is_c0_or_space(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && is_c0_or_space(raw.back())) raw.remove_suffix(1);
  if (const auto hash = raw.find('#'); hash != std::string_view::npos) raw = raw.substr(0, hash);
  std::string text;
  text.reserve(raw.size());
  for (char c : raw) {
    if (c != '\t' && c != '\n' && c != '\r') text += c;
  }
  return text;
}

// Percent-encodes what RFC 3986 does not allow where it stands: spaces,
// controls, non-ASCII, a stray '%', and '[' ']' outside the authority (they
// are legal only around an IPv6 literal there).
std::string encode_invalid(std::string_view text) {
  std::size_t authority_begin = std::string_view::npos;
  std::size_t authority_end = std::string_view::npos;
  if (const auto start = scheme_end(text); text.compare(start, 2, "//") == 0) {
    authority_begin = start + 2;
    authority_end = std::min(text.find_first_of("/?", authority_begin), text.size());
  }
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool in_authority = i >= authority_begin && i < authority_end;
    if (c == '%') {
      out += is_pct_triplet(text, i) ? "%" : "%25";
    } else if (c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
               c == '{' || c == '|' || c == '}' || ((c == '[' || c == ']') && !in_authority)) {
      append_pct(out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// For http(s): a backslash is a slash, up to the query (URL Standard, the
// "special" schemes' path and authority states).
void backslashes_to_slashes(std::string& text) {
  const auto query = std::min(text.find('?'), text.size());
  std::replace(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(query), '\\', '/');
}

// "http:foo" against an http base is relative ("foo"); otherwise however
// many slashes follow "http:" (none, one, four), the authority comes next.
void read_special_scheme(std::string& text, std::size_t end, std::string_view base_scheme) {
  const auto scheme = lower(std::string_view(text).substr(0, end - 1));
  std::string_view rest = std::string_view(text).substr(end);
  if (scheme == base_scheme && !rest.starts_with("//")) {
    text = std::string(rest);
    return;
  }
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  text = scheme + "://" + std::string(rest);
}

// A relative path whose first segment holds a colon would parse as a scheme
// (or not at all, as in "(http://x"); browsers read it as a path.
void guard_colon_path(std::string& text) {
  if (text.empty() || text.front() == '/' || text.front() == '?') return;
  const auto segment_end = std::min(text.find_first_of("/?"), text.size());
  if (text.find(':') < segment_end) text.insert(0, "./");
}

// The URL Standard's IPv4 number parser: "0x" hex, a leading "0" octal,
// else decimal; nullopt when it is none of them. Values past 2^32 are
// capped there (they are refused either way).
std::optional<std::uint64_t> ipv4_number(std::string_view part) {
  if (part.empty()) return std::nullopt;
  unsigned radix = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    part.remove_prefix(2);
    radix = 16;
  } else if (part.size() >= 2 && part[0] == '0') {
    part.remove_prefix(1);
    radix = 8;
  }
  std::uint64_t value = 0;
  for (char c : part) {
    const int digit = hex_value(c);
    if (digit < 0 || static_cast<unsigned>(digit) >= radix) return std::nullopt;
    value = std::min<std::uint64_t>(value * radix + static_cast<unsigned>(digit), std::uint64_t{1} << 33);
  }
  return value;
}

std::vector<std::string_view> ipv4_parts(std::string_view host) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (true) {
    const auto dot = host.find('.', pos);
    parts.push_back(host.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  // One trailing dot is allowed ("127.0.0.1.").
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  return parts;
}

// The URL Standard's "ends in a number" check: such a host must be an IPv4
// address or nothing.
bool ends_in_number(std::string_view host) {
  const auto parts = ipv4_parts(host);
  const auto last = parts.back();
  if (!last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return is_digit(c); })) return true;
  return ipv4_number(last).has_value();
}

std::optional<std::string> parse_ipv4(std::string_view host) {
  const auto parts = ipv4_parts(host);
  if (parts.size() > 4) return std::nullopt;
  std::vector<std::uint64_t> numbers;
  for (const auto part : parts) {
    const auto number = ipv4_number(part);
    if (!number) return std::nullopt;
    numbers.push_back(*number);
  }
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    if (numbers[i] > 255) return std::nullopt;
  }
  // The last number fills the bytes the others left.
  const auto last_bits = 8 * (5 - numbers.size());
  if (numbers.back() >= (std::uint64_t{1} << last_bits)) return std::nullopt;
  std::uint64_t address = numbers.back();
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) address += numbers[i] << (8 * (3 - i));
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    if (!out.empty()) out += '.';
    out += std::to_string((address >> shift) & 0xFF);
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_pct_triplet(s, i)) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// UTS #46 ToASCII, non-transitional ("faß.de" stays "xn--fa-hia.de"), with
// NFC first, as browsers do.
std::optional<std::string> to_a_labels(const std::string& host) {
  char* out = nullptr;
  if (idn2_to_ascii_8z(host.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK) return std::nullopt;
  const std::unique_ptr<char, decltype(&idn2_free)> owned(out, &idn2_free);
  return std::string(out);
}

bool dns_like(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || is_digit(u) || c == '-' || c == '.' || c == '_';
  });
}

}  // namespace

std::size_t scheme_end(std::string_view s) {
  if (s.empty() || !is_alpha(s[0])) return 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == ':') return i + 1;
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return 0;
  }
  return 0;
}

std::string clean_reference(std::string_view raw, std::string_view base_scheme) {
  auto text = strip_reference(raw);
  const auto end = scheme_end(text);
  const auto scheme = lower(std::string_view(text).substr(0, end > 0 ? end - 1 : 0));
  const bool special = end == 0 || scheme == "http" || scheme == "https";
  if (special) backslashes_to_slashes(text);
  if (end > 0 && special) read_special_scheme(text, end, base_scheme);
  if (scheme_end(text) == 0) guard_colon_path(text);
  return encode_invalid(text);
}

bool web_reference(std::string_view href) {
  const auto text = strip_reference(href);
  const auto end = scheme_end(text);
  if (end == 0) return true;
  const auto scheme = lower(std::string_view(text).substr(0, end - 1));
  return scheme == "http" || scheme == "https";
}

std::optional<std::string> canonical_host(std::string_view encoded) {
  auto host = percent_decode(encoded);
  if (std::any_of(host.begin(), host.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
      })) {
    return std::nullopt;
  }
  if (std::any_of(host.begin(), host.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    auto mapped = to_a_labels(host);
    if (!mapped) return std::nullopt;
    host = std::move(*mapped);
  }
  host = lower(host);
  if (!dns_like(host)) return std::nullopt;
  if (ends_in_number(host)) return parse_ipv4(host);
  return host;
}

}  // namespace crawld::crawl::url_text
