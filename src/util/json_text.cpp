#include "crawld/util/json_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace crawld::util {

void append_json_escaped(std::string& out, std::string_view text) {
  if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; })) {
    // Multi-byte and invalid UTF-8 (replaced by U+FFFD) take nlohmann's path.
    auto quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.append(quoted, 1, quoted.size() - 2);
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t plain = 0;  // start of the characters not yet written
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out.append(text, plain);
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  append_json_escaped(out, text);
  out += '"';
}

}  // namespace crawld::util
