// The one JSON string escaper: what nlohmann::json's compact dump
// (error_handler_t::replace) writes for a string, so text rendered here and
// text nlohmann renders are the same bytes. ASCII takes a fast path; other
// text (and invalid UTF-8, replaced by U+FFFD) goes through nlohmann.
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>

namespace crawld::util {

// Appends `text` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view text);

// The same without the quotes (for a string spliced into a larger one).
void append_json_escaped(std::string& out, std::string_view text);

// JSON written by hand, member by member: every member ends with a comma,
// and close_object turns the last one into the closing brace ("{" alone
// becomes "{}"). Keys are written as they are (they are the code's own).
inline void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

// An integer or a bool, as nlohmann::json writes it. (Doubles are left to
// nlohmann: its notation and digits differ from std::to_chars'.)
template <typename Number>
void append_json_number(std::string& out, Number value) {
  static_assert(std::is_integral_v<Number>, "integers and bools only");
  if constexpr (std::is_same_v<Number, bool>) {
    out += value ? "true" : "false";
  } else {
    char text[24];
    auto end = std::to_chars(std::begin(text), std::end(text), value).ptr;
    out.append(text, end);
  }
}

template <typename Number>
void append_member(std::string& out, std::string_view key, Number value) {
  append_key(out, key);
  append_json_number(out, value);
  out += ',';
}

inline void append_string_member(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_json_string(out, value);
  out += ',';
}

// Empty text is null (an error, a stop reason that is not there).
inline void append_text_or_null(std::string& out, std::string_view key, std::string_view value) {
  if (!value.empty()) return append_string_member(out, key, value);
  append_key(out, key);
  out += "null,";
}

inline void close_object(std::string& out) {
  if (out.back() == '{') {
    out += '}';
  } else {
    out.back() = '}';
  }
}

}  // namespace crawld::util
