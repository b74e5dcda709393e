// The one JSON string escaper: what nlohmann::json's compact dump
// (error_handler_t::replace) writes for a string, so text rendered here and
// text nlohmann renders are the same bytes. ASCII takes a fast path; other
// text (and invalid UTF-8, replaced by U+FFFD) goes through nlohmann.
#pragma once

#include <string>
#include <string_view>

namespace crawld::util {

// Appends `text` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view text);

// The same without the quotes (for a string spliced into a larger one).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace crawld::util
