#include "crawld/store/conninfo.hpp"

#include <cctype>

namespace crawld::store {

namespace {

bool is_uri(std::string_view conninfo) {
  return conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://");
}

// In key=value strings a value is either a bare word or single-quoted with
// backslash escapes. Returns the end of the value starting at `pos`.
std::size_t value_end(std::string_view text, std::size_t pos) {
  if (pos < text.size() && text[pos] == '\'') {
    for (std::size_t i = pos + 1; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '\'') {
        return i + 1;
      }
    }
    return text.size();
  }
  std::size_t end = pos;
  while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
  return end;
}

std::string redact_uri(std::string_view uri) {
  std::string out(uri);
  // user:password@ in the authority part.
  std::size_t start = out.find("://") + 3;
  std::size_t authority_end = out.find_first_of("/?", start);
  if (authority_end == std::string::npos) authority_end = out.size();
  std::size_t at = out.rfind('@', authority_end);
  if (at != std::string::npos && at >= start) {
    std::size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... among the query parameters.
  std::size_t query = out.find('?');
  while (query != std::string::npos) {
    std::size_t key = query + 1;
    if (out.compare(key, 9, "password=") == 0) {
      std::size_t end = out.find('&', key);
      if (end == std::string::npos) end = out.size();
      out.replace(key + 9, end - key - 9, "***");
    }
    query = out.find('&', key);
  }
  return out;
}

std::string redact_keywords(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eq = text.find('=', pos);
    if (eq == std::string::npos) {
      out.append(text.substr(pos));
      break;
    }
    // The keyword is the word just before '=' (spaces around '=' are allowed).
    std::size_t key_end = eq;
    while (key_end > pos && std::isspace(static_cast<unsigned char>(text[key_end - 1]))) --key_end;
    std::size_t key_start = key_end;
    while (key_start > pos && !std::isspace(static_cast<unsigned char>(text[key_start - 1]))) --key_start;
    std::string_view key = text.substr(key_start, key_end - key_start);
    std::size_t value_start = eq + 1;
    while (value_start < text.size() && std::isspace(static_cast<unsigned char>(text[value_start]))) ++value_start;
    std::size_t end = value_end(text, value_start);
    out.append(text.substr(pos, value_start - pos));
    out.append(key == "password" ? std::string_view("***") : text.substr(value_start, end - value_start));
    pos = end;
  }
  return out;
}

}  // namespace

std::string redact_conninfo(std::string_view conninfo) {
  return is_uri(conninfo) ? redact_uri(conninfo) : redact_keywords(conninfo);
}

std::string with_connect_timeout(std::string_view conninfo, unsigned seconds) {
  std::string out(conninfo);
  if (out.find("connect_timeout") != std::string::npos) return out;
  std::string value = std::to_string(seconds);
  if (is_uri(conninfo)) {
    out += (out.find('?') == std::string::npos ? "?" : "&");
    out += "connect_timeout=" + value;
  } else {
    if (!out.empty()) out += ' ';
    out += "connect_timeout=" + value;
  }
  return out;
}

}  // namespace crawld::store
