// The one error type of the HTTP API and its rendering as problem+json.
//
// Handlers throw ApiError (or a helper below builds one); the server turns
// it into an RFC 9457 application/problem+json response in exactly one place,
// so no handler writes error JSON by hand.
#pragma once

#include "crawld/http/message.hpp"

#include <nlohmann/json.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace crawld::http {

// One invalid input field ("season": "expected integer 1900-2100").
struct FieldError {
  std::string field;
  std::string message;
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string slug, std::string title, std::string detail)
      : std::runtime_error(detail), status_(status), slug_(std::move(slug)), title_(std::move(title)),
        detail_(std::move(detail)) {}

  ApiError& with_errors(std::vector<FieldError> errors) {
    errors_ = std::move(errors);
    return *this;
  }
  ApiError& with_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // Extra members of the problem object (e.g. "job" for a duplicate).
  ApiError& with_member(const std::string& name, nlohmann::json value) {
    members_[name] = std::move(value);
    return *this;
  }
  // The same with a value that is JSON text already (a rendered job).
  ApiError& with_json_member(std::string name, std::string json_text) {
    json_members_.emplace_back(std::move(name), std::move(json_text));
    return *this;
  }

  int status() const { return status_; }
  const std::string& slug() const { return slug_; }
  const std::string& title() const { return title_; }
  const std::string& detail() const { return detail_; }
  const std::vector<FieldError>& errors() const { return errors_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }
  const nlohmann::json& members() const { return members_; }
  const std::vector<std::pair<std::string, std::string>>& json_members() const { return json_members_; }

 private:
  int status_;
  std::string slug_;
  std::string title_;
  std::string detail_;
  std::vector<FieldError> errors_;
  std::vector<std::pair<std::string, std::string>> headers_;
  nlohmann::json members_ = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> json_members_;
};

// A JSON response (invalid UTF-8 in strings is replaced, never thrown).
Response json_response(int status, const nlohmann::json& body);
// The same with one more member of `body` (an object) whose value is JSON
// text already (jobs render their own), placed among the others in sorted
// key order as nlohmann::json orders them.
Response json_response(int status, const nlohmann::json& body, const std::string& key, std::string_view json_text);

// The same with several such members (name, JSON text).
Response json_response(int status, const nlohmann::json& body,
                       const std::vector<std::pair<std::string, std::string>>& json_members);

// Renders the error; `instance` is the request path.
Response problem_response(const ApiError& error, std::string_view instance);

// The one mapping of what a handler threw to its answer: ApiError as it
// says, util::Unavailable as 503 with Retry-After, anything else 500 (logged).
Response exception_response(const std::exception_ptr& error, std::string_view instance);

// Common errors.
ApiError bad_request(std::string detail);
ApiError validation_failed(std::vector<FieldError> errors);
ApiError not_found(std::string detail);
ApiError method_not_allowed(const std::vector<std::string>& allowed);
ApiError conflict(std::string detail);
ApiError payload_too_large(std::string detail);
ApiError unsupported_media_type(std::string detail);
ApiError header_fields_too_large(std::string detail);
ApiError too_many_requests(std::string detail, int retry_after_s);
ApiError unauthorized(std::string detail);
ApiError service_unavailable(std::string detail);
ApiError internal_error(std::string detail);

}  // namespace crawld::http
