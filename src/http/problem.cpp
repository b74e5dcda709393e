#include "crawld/http/problem.hpp"

namespace crawld::http {

Response json_response(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

Response json_response(int status, const nlohmann::json& body, const std::string& key, std::string_view json_text) {
  auto dump = [](const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  Response response;
  response.status = status;
  std::string& out = response.body;
  bool placed = false;
  auto member = [&out](const std::string& name_text, std::string_view value_text) {
    out += out.empty() ? '{' : ',';
    out += name_text;
    out += ':';
    out += value_text;
  };
  for (const auto& [name, value] : body.items()) {
    if (!placed && key < name) {
      member(dump(key), json_text);
      placed = true;
    }
    if (name != key) member(dump(name), dump(value));
  }
  if (!placed) member(dump(key), json_text);
  out += '}';
  return response;
}

Response problem_response(const ApiError& error, std::string_view instance) {
  nlohmann::json body = {
      {"type", "/problems/" + error.slug()},
      {"title", error.title()},
      {"status", error.status()},
      {"detail", error.detail()},
      {"instance", std::string(instance)},
  };
  if (!error.errors().empty()) {
    auto& list = body["errors"] = nlohmann::json::array();
    for (const auto& field : error.errors()) list.push_back({{"field", field.field}, {"message", field.message}});
  }
  for (const auto& [name, value] : error.members().items()) body[name] = value;
  Response response;
  response.status = error.status();
  response.content_type = "application/problem+json";
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.headers = error.headers();
  return response;
}

ApiError bad_request(std::string detail) { return {400, "bad-request", "Bad Request", std::move(detail)}; }

ApiError validation_failed(std::vector<FieldError> errors) {
  std::string detail = "invalid parameters:";
  for (const auto& e : errors) detail += " " + e.field + " (" + e.message + ");";
  detail.pop_back();
  ApiError error(422, "validation-error", "Invalid parameters", detail);
  error.with_errors(std::move(errors));
  return error;
}

ApiError not_found(std::string detail) { return {404, "not-found", "Not Found", std::move(detail)}; }

ApiError method_not_allowed(const std::vector<std::string>& allowed) {
  std::string allow;
  for (const auto& method : allowed) allow += (allow.empty() ? "" : ", ") + method;
  ApiError error(405, "method-not-allowed", "Method Not Allowed", "allowed methods: " + allow);
  error.with_header("Allow", allow);
  return error;
}

ApiError conflict(std::string detail) { return {409, "conflict", "Conflict", std::move(detail)}; }

ApiError payload_too_large(std::string detail) {
  return {413, "payload-too-large", "Content Too Large", std::move(detail)};
}

ApiError unsupported_media_type(std::string detail) {
  return {415, "unsupported-media-type", "Unsupported Media Type", std::move(detail)};
}

ApiError header_fields_too_large(std::string detail) {
  return {431, "header-fields-too-large", "Request Header Fields Too Large", std::move(detail)};
}

ApiError too_many_requests(std::string detail, int retry_after_s) {
  ApiError error(429, "too-many-requests", "Too Many Requests", std::move(detail));
  error.with_header("Retry-After", std::to_string(retry_after_s));
  return error;
}

ApiError unauthorized(std::string detail) {
  ApiError error(401, "unauthorized", "Unauthorized", std::move(detail));
  error.with_header("WWW-Authenticate", "Bearer realm=\"crawld\"");
  return error;
}

ApiError service_unavailable(std::string detail) {
  return {503, "service-unavailable", "Service Unavailable", std::move(detail)};
}

ApiError internal_error(std::string detail) {
  return {500, "internal-error", "Internal Server Error", std::move(detail)};
}

}  // namespace crawld::http
