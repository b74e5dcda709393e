#include "crawld/http/problem.hpp"

#include "crawld/util/unavailable.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace crawld::http {

Response json_response(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

Response json_response(int status, const nlohmann::json& body,
                       const std::vector<std::pair<std::string, std::string>>& json_members) {
  auto dump = [](const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // Members in sorted key order, as nlohmann orders an object's keys.
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& [name, value] : body.items()) members.emplace_back(name, dump(value));
  for (const auto& spliced : json_members) {
    std::erase_if(members, [&spliced](const auto& member) { return member.first == spliced.first; });
    members.push_back(spliced);
  }
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Response response;
  response.status = status;
  std::string& out = response.body;
  for (const auto& [name, text] : members) {
    out += out.empty() ? '{' : ',';
    out += dump(name);
    out += ':';
    out += text;
  }
  out += out.empty() ? "{}" : "}";
  return response;
}

Response json_response(int status, const nlohmann::json& body, const std::string& key, std::string_view json_text) {
  return json_response(status, body, {{key, std::string(json_text)}});
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
  Response response = json_response(error.status(), body, error.json_members());
  response.content_type = "application/problem+json";
  response.headers = error.headers();
  return response;
}

Response exception_response(const std::exception_ptr& error, std::string_view instance) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    return problem_response(e, instance);
  } catch (const util::Unavailable& e) {
    // A dependency (the database) cannot answer now.
    auto problem = service_unavailable(e.what());
    problem.with_header("Retry-After", std::to_string(e.retry_after_s()));
    return problem_response(problem, instance);
  } catch (const std::exception& e) {
    spdlog::error("handler for {} failed: {}", instance, e.what());
  } catch (...) {
    spdlog::error("handler for {} failed with an unknown error", instance);
  }
  return problem_response(internal_error("internal error"), instance);
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
