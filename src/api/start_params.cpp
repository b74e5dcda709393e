#include "crawld/api/start_params.hpp"

#include "crawld/http/message.hpp"
#include "crawld/http/problem.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace crawld::api {
namespace {

using nlohmann::json;
using http::FieldError;

std::string type_name(ParamType type) {
  switch (type) {
    case ParamType::boolean: return "boolean";
    case ParamType::integer: return "integer";
    case ParamType::string: return "string";
  }
  return "string";
}

std::string expectation(const ParamDef& def) {
  switch (def.type) {
    case ParamType::boolean: return "expected boolean";
    case ParamType::integer:
      return "expected integer " + std::to_string(*def.minimum) + "-" + std::to_string(*def.maximum);
    case ParamType::string: {
      std::string text = "expected one of";
      for (const auto& choice : def.choices) text += " \"" + choice + "\"";
      if (def.choices.empty()) text = "no targets are configured";
      return text;
    }
  }
  return "invalid";
}

// Appends the compact JSON text of `value` to `out`, stopping once `out`
// holds more than `limit` characters. json::dump() would recurse once per
// nesting level of the whole value, and a 64 KB body nests 32,000 deep:
// enough to overflow the loop thread's stack. Each level here adds at least
// one character, so the recursion ends after `limit` levels.
void describe_into(const json& value, std::string& out, std::size_t limit) {
  if (out.size() > limit) return;
  if (value.is_array() || value.is_object()) {
    const bool object = value.is_object();
    out += object ? '{' : '[';
    bool first = true;
    for (auto it = value.begin(); it != value.end() && out.size() <= limit; ++it) {
      if (!first) out += ',';
      first = false;
      if (object) out += json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace) + ":";
      describe_into(it.value(), out, limit);
    }
    out += object ? '}' : ']';
    return;
  }
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string describe(const json& value) {
  std::string text;
  describe_into(value, text, 40);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// Checks one JSON value against its definition; returns the normalized value
// or records an error.
std::optional<json> check_json(const ParamDef& def, const json& value, std::vector<FieldError>& errors) {
  switch (def.type) {
    case ParamType::boolean:
      if (value.is_boolean()) return value;
      break;
    case ParamType::integer: {
      std::optional<std::int64_t> n;
      if (value.is_number_unsigned()) {
        auto u = value.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(*def.maximum)) n = static_cast<std::int64_t>(u);
      } else if (value.is_number_integer()) {
        n = value.get<std::int64_t>();
      } else if (value.is_number_float()) {
        // JSON Schema counts 2024.0 as an integer; so do we (2024.5 is not).
        double d = value.get<double>();
        if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9e15) n = static_cast<std::int64_t>(d);
      }
      if (n && *n >= *def.minimum && *n <= *def.maximum) return json(*n);
      break;
    }
    case ParamType::string:
      if (value.is_string() &&
          std::find(def.choices.begin(), def.choices.end(), value.get<std::string>()) != def.choices.end()) {
        return value;
      }
      break;
  }
  errors.push_back({def.name, expectation(def) + ", got " + describe(value)});
  return std::nullopt;
}

// Form values are text: convert them to the JSON value they stand for.
std::optional<json> check_form(const ParamDef& def, const std::string& text, std::vector<FieldError>& errors) {
  switch (def.type) {
    case ParamType::boolean: {
      std::string lower = text;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (lower == "true" || lower == "1" || lower == "yes") return json(true);
      if (lower == "false" || lower == "0" || lower == "no") return json(false);
      errors.push_back({def.name, "expected boolean (true/false/1/0/yes/no), got \"" + text + "\""});
      return std::nullopt;
    }
    case ParamType::integer: {
      bool digits = !text.empty() && text.size() <= 18;
      for (std::size_t i = 0; i < text.size() && digits; ++i) {
        digits = std::isdigit(static_cast<unsigned char>(text[i])) || (i == 0 && text[i] == '-' && text.size() > 1);
      }
      if (digits) {
        std::int64_t n = std::stoll(text);
        if (n >= *def.minimum && n <= *def.maximum) return json(n);
      }
      errors.push_back({def.name, expectation(def) + ", got \"" + text + "\""});
      return std::nullopt;
    }
    case ParamType::string:
      return check_json(def, json(text), errors);
  }
  return std::nullopt;
}

std::string media_type(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  std::string type(content_type.substr(0, semicolon));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }), type.end());
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type;
}

bool is_blank(std::string_view body) {
  return std::all_of(body.begin(), body.end(), [](unsigned char c) { return std::isspace(c); });
}

}  // namespace

std::vector<ParamDef> start_param_defs(const Config& config) {
  std::vector<std::string> targets;
  for (const auto& target : config.crawl.targets) targets.push_back(target.name);
  std::vector<ParamDef> defs;
  defs.push_back({"deep", ParamType::boolean, false, {}, {}, {}, false,
                  "Follow links inside the target's allowed hosts up to its deep depth; false fetches only to "
                  "its shallow depth (by default the seed pages)."});
  defs.push_back({"season", ParamType::integer, config.crawl.current_season, config.crawl.min_season,
                  config.crawl.max_season, {}, false, "Season to crawl; replaces {season} in the seed URLs."});
  defs.push_back({"timeout", ParamType::integer, config.jobs.default_timeout_s, 1, config.jobs.max_timeout_s, {}, false,
                  "Seconds before the watchdog stops the crawl (the job then ends timed_out)."});
  defs.push_back({"log_to_db", ParamType::boolean, true, {}, {}, {}, false,
                  "Record every fetched page in the database; the job itself is always recorded."});
  ParamDef target{"target", ParamType::string, nullptr, {}, {}, targets, targets.size() != 1,
                  "Name of a configured target; optional when exactly one is configured."};
  if (targets.size() == 1) target.default_value = targets.front();
  defs.push_back(std::move(target));
  return defs;
}

nlohmann::json start_schema(const Config& config) {
  json properties = json::object();
  json required = json::array();
  for (const auto& def : start_param_defs(config)) {
    json property = {{"type", type_name(def.type)}, {"description", def.description}};
    if (def.minimum) property["minimum"] = *def.minimum;
    if (def.maximum) property["maximum"] = *def.maximum;
    if (def.type == ParamType::string) property["enum"] = def.choices;
    if (!def.default_value.is_null()) property["default"] = def.default_value;
    if (def.required) required.push_back(def.name);
    properties[def.name] = std::move(property);
  }
  json schema = {
      {"$schema", "http://json-schema.org/draft-07/schema#"},
      {"title", "POST /start parameters"},
      {"type", "object"},
      {"properties", std::move(properties)},
      {"additionalProperties", false},
  };
  if (!required.empty()) schema["required"] = std::move(required);
  return schema;
}

nlohmann::json start_docs(const Config& config) {
  json allowed = json::object();
  json parameters = json::array();
  for (const auto& def : start_param_defs(config)) {
    // The seed's vocabulary: integers are "number" there.
    allowed[def.name] = def.type == ParamType::integer ? "number" : type_name(def.type);
    json entry = {{"name", def.name},
                  {"type", type_name(def.type)},
                  {"default", def.default_value},
                  {"required", def.required},
                  {"description", def.description}};
    if (def.minimum) entry["minimum"] = *def.minimum;
    if (def.maximum) entry["maximum"] = *def.maximum;
    if (def.type == ParamType::string) entry["choices"] = def.choices;
    parameters.push_back(std::move(entry));
  }
  return {
      {"description", "Start the crawler by calling this endpoint via post."},
      {"allowed_parameters", std::move(allowed)},
      {"parameters", std::move(parameters)},
      {"content_types", {"application/json", "application/x-www-form-urlencoded"}},
      {"responses",
       {{"202", "the crawl was accepted; Location names the job, the body is the job"},
        {"200", "a retry with the same Idempotency-Key: the original job"},
        {"400", "malformed body"},
        {"409", "the same crawl is already queued or running (the body names it)"},
        {"415", "unsupported content type"},
        {"422", "invalid parameter values (each one named in errors)"},
        {"429", "the queue is full; retry after Retry-After seconds"}}},
      {"schema", start_schema(config)},
  };
}

StartParams parse_start_params(std::string_view content_type, std::string_view body, const Config& config) {
  return parse_start_params(content_type, body, start_param_defs(config));
}

namespace {

// The values of one POST /start body, checked against the table; every
// invalid field is collected before anything is thrown.
class BodyReader {
 public:
  explicit BodyReader(const std::vector<ParamDef>& defs) : defs_(defs) {}

  void read(std::string_view content_type, std::string_view body) {
    if (is_blank(body)) return;
    std::string type = media_type(content_type);
    if (type.empty()) type = sniff(body);
    if (type == "application/json") return read_json(body);
    if (type == "application/x-www-form-urlencoded") {
      // `curl -d '{"deep":true}'` labels its JSON as a form. No form body of
      // ours starts with '{' (no parameter is named so), so such a body is
      // read as the JSON it is rather than refused as an unknown parameter.
      return sniff(body) == "application/json" ? read_json(body) : read_form(body);
    }
    throw http::unsupported_media_type("POST /start accepts application/json or application/x-www-form-urlencoded, "
                                       "not " + std::string(content_type));
  }

  StartParams params() {
    for (const auto& def : defs_) {
      if (def.required && !values_.contains(def.name) && !has_error(def.name)) {
        errors_.push_back({def.name, "required: " + expectation(def)});
      }
    }
    if (!errors_.empty()) throw http::validation_failed(std::move(errors_));
    StartParams params;
    params.deep = value("deep").get<bool>();
    params.season = value("season").get<std::int64_t>();
    params.timeout_s = static_cast<std::uint32_t>(value("timeout").get<std::int64_t>());
    params.log_to_db = value("log_to_db").get<bool>();
    params.target = value("target").get<std::string>();
    return params;
  }

 private:
  // Without a Content-Type, a body that starts with '{' is JSON, else a form.
  static std::string sniff(std::string_view body) {
    auto first = body.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && body[first] == '{' ? "application/json"
                                                                  : "application/x-www-form-urlencoded";
  }

  static json parse_json(std::string_view body) {
    try {
      return json::parse(body);
    } catch (const json::parse_error& e) {
      throw http::bad_request("invalid JSON at byte " + std::to_string(e.byte) + ": " +
                              std::string(e.what()).substr(std::string(e.what()).find(':') + 2));
    } catch (const json::out_of_range& e) {
      // A number too large for a double (1e400): nlohmann reports it apart
      // from syntax errors, but it is just as much the client's mistake.
      std::string what = e.what();
      throw http::bad_request("invalid JSON: " + what.substr(what.find("] ") + 2));
    }
  }

  void read_json(std::string_view body) {
    json document = parse_json(body);
    if (!document.is_object()) throw http::bad_request("expected a JSON object, got " + describe(document));
    for (const auto& [name, value] : document.items()) {
      const ParamDef* def = find(name);
      if (def == nullptr) {
        errors_.push_back({name, "unknown parameter"});
        continue;
      }
      if (auto checked = check_json(*def, value, errors_)) values_[name] = *checked;
    }
  }

  void read_form(std::string_view body) {
    std::multimap<std::string, std::string> form;
    if (!http::parse_form(body, form)) throw http::bad_request("malformed form body: bad percent-encoding");
    for (const auto& [name, text] : form) {
      const ParamDef* def = find(name);
      if (def == nullptr) {
        errors_.push_back({name, "unknown parameter"});
        continue;
      }
      if (form.count(name) > 1) {
        if (!values_.contains(name) && !has_error(name)) errors_.push_back({name, "given more than once"});
        continue;
      }
      if (auto checked = check_form(*def, text, errors_)) values_[name] = *checked;
    }
  }

  const ParamDef* find(const std::string& name) const {
    for (const auto& def : defs_) {
      if (def.name == name) return &def;
    }
    return nullptr;
  }

  bool has_error(const std::string& name) const {
    return std::any_of(errors_.begin(), errors_.end(), [&](const FieldError& e) { return e.field == name; });
  }

  json value(const std::string& name) const {
    auto it = values_.find(name);
    return it != values_.end() ? it->second : find(name)->default_value;
  }

  const std::vector<ParamDef>& defs_;
  std::map<std::string, json> values_;
  std::vector<FieldError> errors_;
};

}  // namespace

StartParams parse_start_params(std::string_view content_type, std::string_view body,
                               const std::vector<ParamDef>& defs) {
  BodyReader reader(defs);
  reader.read(content_type, body);
  return reader.params();
}

}  // namespace crawld::api
