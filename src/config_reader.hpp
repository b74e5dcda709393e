// Reading the configuration file (private to src/config*.cpp): the JSON
// object reader that rejects unknown keys, and the parts read elsewhere.
#pragma once

#include "crawld/config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <set>
#include <string>

namespace crawld::config_detail {

using json = nlohmann::json;

inline std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

[[noreturn]] inline void fail(const std::string& path, const std::string& message) {
  throw ConfigError(path + ": " + message);
}

// Walks one JSON object, remembering which keys were read so that unknown
// keys (usually typos) can be rejected instead of silently ignored.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) fail(path_.empty() ? "(top level)" : path_, "expected object, got " + describe(object_));
  }

  std::string path_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const json* find(const std::string& key) {
    seen_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  template <class Int>
  void integer(const std::string& key, Int& out, std::int64_t min, std::int64_t max) {
    const json* value = find(key);
    if (value == nullptr) return;
    bool ok = value->is_number_integer();
    std::int64_t n = 0;
    if (ok && value->is_number_unsigned()) {
      auto u = value->get<std::uint64_t>();
      ok = u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      n = static_cast<std::int64_t>(u);
    } else if (ok) {
      n = value->get<std::int64_t>();
    }
    if (!ok || n < min || n > max) {
      fail(path_of(key),
           "expected integer " + std::to_string(min) + "-" + std::to_string(max) + ", got " + describe(*value));
    }
    out = static_cast<Int>(n);
  }

  void boolean(const std::string& key, bool& out) {
    const json* value = find(key);
    if (value == nullptr) return;
    if (!value->is_boolean()) fail(path_of(key), "expected boolean, got " + describe(*value));
    out = value->get<bool>();
  }

  void string(const std::string& key, std::string& out, std::initializer_list<const char*> allowed = {}) {
    const json* value = find(key);
    if (value == nullptr) return;
    if (!value->is_string()) fail(path_of(key), "expected string, got " + describe(*value));
    auto text = value->get<std::string>();
    if (allowed.size() != 0) {
      std::string choices;
      for (const char* choice : allowed) {
        if (text == choice) {
          out = text;
          return;
        }
        choices += choices.empty() ? "" : ", ";
        choices += choice;
      }
      fail(path_of(key), "expected one of " + choices + ", got " + describe(*value));
    }
    out = std::move(text);
  }

  void string_list(const std::string& key, std::vector<std::string>& out) {
    const json* value = find(key);
    if (value == nullptr) return;
    if (!value->is_array()) fail(path_of(key), "expected array of strings, got " + describe(*value));
    out.clear();
    for (std::size_t i = 0; i < value->size(); ++i) {
      const json& item = (*value)[i];
      if (!item.is_string()) {
        fail(path_of(key) + "[" + std::to_string(i) + "]", "expected string, got " + describe(item));
      }
      out.push_back(item.get<std::string>());
    }
  }

  // Every key present must have been read.
  void finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (!seen_.contains(key)) fail(path_of(key), "unknown key");
    }
  }

 private:
  const json& object_;
  std::string path_;
  std::set<std::string> seen_;
};


// config_crawl.cpp: the "crawl" object.
void read_crawl(const json& j, CrawlConfig& c);

}  // namespace crawld::config_detail
