#include "crawld/http/message.hpp"

#include "crawld/version.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

namespace crawld::http {
namespace {

int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

bool decode_component(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char ch = in[i];
    if (ch == '+') {
      out.push_back(' ');
    } else if (ch == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(ch);
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

bool parse_form(std::string_view text, std::multimap<std::string, std::string>& out) {
  bool ok = true;
  while (!text.empty()) {
    auto amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key;
    std::string value;
    if (!decode_component(pair.substr(0, eq), key)) ok = false;
    if (eq != std::string_view::npos && !decode_component(pair.substr(eq + 1), value)) ok = false;
    if (!ok) return false;
    out.emplace(std::move(key), std::move(value));
  }
  return ok;
}

namespace {

bool is_secret_name(std::string_view raw) {
  std::multimap<std::string, std::string> decoded;
  std::string name;
  // The name as the application reads it: percent-decoded, lower-case.
  if (parse_form(std::string(raw) + "=", decoded) && !decoded.empty()) name = decoded.begin()->first;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view secrets[] = {"token",  "access_token", "api_key",   "apikey", "key",
                                                 "password", "passwd",   "secret", "signature", "sig"};
  static constexpr std::string_view suffixes[] = {"_token", "_key", "_secret", "_password"};
  return std::ranges::any_of(secrets, [&](std::string_view secret) { return name == secret; }) ||
         std::ranges::any_of(suffixes, [&](std::string_view suffix) { return name.ends_with(suffix); });
}

}  // namespace

std::string redact_target(std::string_view target) {
  auto question = target.find('?');
  if (question == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, question + 1));
  std::string_view query = target.substr(question + 1);
  bool first = true;
  while (true) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    auto equals = pair.find('=');
    if (equals != std::string_view::npos && is_secret_name(pair.substr(0, equals))) {
      out.append(pair.substr(0, equals + 1));
      out += "***";
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string problem_instance(std::string_view parsed_target, std::string_view raw) {
  std::string_view target = parsed_target;
  if (target.empty()) {
    auto head = raw.substr(0, raw.find_first_of("\r\n"));
    auto first_space = head.find(' ');
    if (first_space != std::string_view::npos) {
      auto rest = head.substr(first_space + 1);
      target = rest.substr(0, rest.find(' '));
    }
  }
  target = target.substr(0, target.find('?'));
  bool printable = std::all_of(target.begin(), target.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (target.empty() || target.front() != '/' || target.size() > 2048 || !printable) return "/";
  return std::string(target);
}

void split_target(Request& request) {
  std::string_view target = request.target;
  // Absolute form ("http://host/path", RFC 9112 3.2.2), which a server must
  // accept: the path is what follows the authority.
  for (std::string_view scheme : {"http://", "https://"}) {
    bool match = target.size() > scheme.size() &&
                 std::equal(scheme.begin(), scheme.end(), target.begin(), [](char a, char b) {
                   return a == std::tolower(static_cast<unsigned char>(b));
                 });
    if (!match) continue;
    auto rest = target.substr(scheme.size());
    auto path = rest.find_first_of("/?");
    target = path == std::string_view::npos ? std::string_view("/") : rest.substr(path);
    break;
  }
  auto question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (request.path.empty()) request.path = "/";
  request.query.clear();
  if (question != std::string_view::npos) parse_form(target.substr(question + 1), request.query);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string_view http_date_now() {
  static thread_local std::time_t cached_second = 0;
  static thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = text;
    cached_second = now;
  }
  return cached;
}

bool is_bodiless(int status) { return status < 200 || status == 204 || status == 304; }

// Writes the head in one pass into `out` (a connection's string, so its
// capacity is kept from one response to the next): sized once, filled with
// copies of known lengths.
void write_response_head(std::string& out, const Response& response, unsigned version, bool keep_alive) {
  using namespace std::string_view_literals;
  static const std::string server = "\r\nServer: crawld/" + std::string(crawld::version) + "\r\nDate: ";
  auto safe = [](const std::pair<std::string, std::string>& field) {
    const auto& [name, value] = field;
    return !name.empty() && name.find_first_of(":\r\n \t") == std::string::npos &&
           value.find_first_of("\r\n") == std::string::npos;
  };
  std::string_view reason = reason_phrase(response.status);
  std::string_view date = http_date_now();
  // Everything but the variable parts takes under 160 bytes.
  std::size_t size = 160 + reason.size() + server.size() + date.size() + response.content_type.size();
  for (const auto& [name, value] : response.headers) size += name.size() + value.size() + 4;
  out.resize(size);
  char* at = out.data();
  auto put = [&at](std::string_view text) {
    std::memcpy(at, text.data(), text.size());
    at += text.size();
  };
  put(version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  at = std::to_chars(at, at + 12, response.status).ptr;
  *at++ = ' ';
  put(reason);
  put(server);
  put(date);
  put("\r\nContent-Type: "sv);
  put(response.content_type);
  put("\r\n"sv);
  for (const auto& field : response.headers) {
    if (!safe(field)) {
      spdlog::error("response field \"{}\" left out: its name or value contains a delimiter", field.first);
      continue;
    }
    put(field.first);
    put(": "sv);
    put(field.second);
    put("\r\n"sv);
  }
  if (version == 10 && keep_alive) put("Connection: keep-alive\r\n"sv);
  if (version != 10 && !keep_alive) put("Connection: close\r\n"sv);
  if (response.stream) {
    if (version != 10) put("Transfer-Encoding: chunked\r\n"sv);
  } else if (!is_bodiless(response.status)) {
    put("Content-Length: "sv);
    at = std::to_chars(at, at + 24, response.payload().size()).ptr;
    put("\r\n"sv);
  }
  put("\r\n"sv);
  out.resize(static_cast<std::size_t>(at - out.data()));
}

}  // namespace crawld::http
