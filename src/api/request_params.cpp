#include "crawld/api/request_params.hpp"

#include <algorithm>
#include <cctype>

namespace crawld::api {

namespace {

// Digits only, at most `max_digits`; nullopt otherwise.
std::optional<std::int64_t> parse_unsigned(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  return std::stoll(std::string(text));
}

}  // namespace

std::string job_id_param(const http::Request& request) {
  auto it = request.params.find("id");
  std::string id = it == request.params.end() ? std::string() : it->second;
  if (!jobs::is_valid_job_id(id)) {
    throw http::validation_failed({{"id", "malformed job id \"" + id + "\": expected a UUID"}});
  }
  return id;
}

std::size_t QueryParams::limit(std::size_t default_limit, std::size_t max_limit) {
  auto text = request_.query_param("limit");
  if (!text) return default_limit;
  auto value = parse_unsigned(*text, 6);
  if (!value || *value < 1 || static_cast<std::size_t>(*value) > max_limit) {
    errors_.push_back({"limit", "expected integer 1-" + std::to_string(max_limit) + ", got \"" + std::string(*text) + "\""});
    return default_limit;
  }
  return static_cast<std::size_t>(*value);
}

std::int64_t QueryParams::after() {
  auto text = request_.query_param("after");
  if (!text) return 0;
  auto value = parse_unsigned(*text, 18);
  if (!value) {
    errors_.push_back(
        {"after", "expected a non-negative integer (an id from a previous answer), got \"" + std::string(*text) + "\""});
    return 0;
  }
  return *value;
}

std::optional<jobs::JobState> QueryParams::status() {
  auto text = request_.query_param("status");
  if (!text) return std::nullopt;
  auto state = jobs::parse_job_state(*text);
  if (!state) errors_.push_back({"status", "unknown state \"" + std::string(*text) + "\""});
  return state;
}

std::string QueryParams::job() {
  auto text = request_.query_param("job");
  if (!text) return {};
  std::string id(*text);
  if (!jobs::is_valid_job_id(id)) {
    errors_.push_back({"job", "malformed job id \"" + id + "\": expected a UUID"});
    return {};
  }
  return id;
}

void QueryParams::done() const {
  if (!errors_.empty()) throw http::validation_failed(errors_);
}

}  // namespace crawld::api
