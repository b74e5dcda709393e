// The parameters of POST /start, defined once.
//
// One table (name, type, default, bounds, description) drives the
// documentation served by GET /start, the JSON Schema published there, and
// the validation of JSON and form bodies, so the three cannot drift apart.
#pragma once

#include "crawld/config.hpp"
#include "crawld/jobs/job.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crawld::api {

enum class ParamType { boolean, integer, string };

struct ParamDef {
  std::string name;
  ParamType type;
  nlohmann::json default_value;  // null: no default (required or derived)
  std::optional<std::int64_t> minimum;
  std::optional<std::int64_t> maximum;
  std::vector<std::string> choices;  // for strings: the allowed values
  bool required = false;
  std::string description;
};

// The table, with bounds and defaults taken from the configuration.
std::vector<ParamDef> start_param_defs(const Config& config);

// GET /start: the seed's "description" and "allowed_parameters" plus the
// richer "parameters" list and "schema".
nlohmann::json start_docs(const Config& config);

// JSON Schema (draft-07) that POST /start JSON bodies are validated against.
nlohmann::json start_schema(const Config& config);

using StartParams = jobs::JobParams;

// Parses and validates a POST /start body. `content_type` is the header's
// value (may be empty). Throws http::ApiError: 400 for syntax errors,
// 415 for unsupported content types, 422 naming every invalid field.
StartParams parse_start_params(std::string_view content_type, std::string_view body, const Config& config);
// The same with the table already built (the server builds it once).
StartParams parse_start_params(std::string_view content_type, std::string_view body,
                               const std::vector<ParamDef>& defs);

}  // namespace crawld::api
