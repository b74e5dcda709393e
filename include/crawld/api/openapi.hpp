// The API document: OpenAPI 3.1, served at GET /openapi.json.
//
// It is generated, so it cannot drift from the service: the paths and
// methods are the router's routes, each route's operation is written beside
// its handler (an Operation below), the job's progress counters and states
// come from the tables the JSON is rendered from, and POST /start's body is
// the same JSON Schema GET /start publishes (start_schema).
#pragma once

#include "crawld/config.hpp"
#include "crawld/http/router.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace crawld::api {

// One operation, built beside the route it documents. Schemas are named by
// their key in the document's components ("Job", "Problem", ...).
class Operation {
 public:
  Operation(std::string id, std::string summary);

  Operation& describe(std::string text);
  // A success answer with a JSON body of the named schema.
  Operation& reply(int status, std::string description, std::string_view schema);
  // A success answer of another media type, its body a string.
  Operation& reply_text(int status, std::string description, std::string_view media);
  // Another media type the answer `status` may have (the request chooses),
  // its body a string.
  Operation& or_text(int status, std::string_view media);
  // A problem+json answer.
  Operation& problem(int status, std::string description);
  // A header the answer `status` carries.
  Operation& reply_header(int status, std::string name, std::string description);
  Operation& query(std::string name, nlohmann::json schema, std::string description);
  Operation& request_header(std::string name, nlohmann::json schema, std::string description);
  // POST /start's body: JSON or a form, the StartParameters schema.
  Operation& start_body();
  // Never asks for a token (probes, the status page): no 401, no security.
  Operation& open();

  // The Operation Object; a 401 and the bearer scheme are added unless
  // open(), and a default problem answer always.
  nlohmann::json document() const;
  operator nlohmann::json() const { return document(); }  // NOLINT(google-explicit-constructor): router.add(..., Operation(...))

 private:
  Operation& parameter(std::string_view in, std::string name, nlohmann::json schema, std::string description);
  nlohmann::json doc_;
  bool open_ = false;
};

// The whole document for the routes registered so far.
nlohmann::json openapi_document(const http::Router& router, const Config& config);

}  // namespace crawld::api
