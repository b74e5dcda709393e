#include "crawld/api/openapi.hpp"

#include "crawld/api/start_params.hpp"
#include "crawld/crawl/page_result.hpp"
#include "crawld/jobs/job.hpp"
#include "crawld/version.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>

namespace crawld::api {

using nlohmann::json;

namespace {

json ref(std::string_view schema) { return {{"$ref", "#/components/schemas/" + std::string(schema)}}; }

json content(std::string_view media, json schema) { return {{std::string(media), {{"schema", std::move(schema)}}}}; }

json integer_schema() { return {{"type", "integer"}}; }
json boolean_schema() { return {{"type", "boolean"}}; }
json string_schema() { return {{"type", "string"}}; }
json nullable_string_schema() { return {{"type", json::array({"string", "null"})}}; }
json time_schema() { return {{"type", "string"}, {"format", "date-time"}}; }
json nullable_time_schema() { return {{"type", json::array({"string", "null"})}, {"format", "date-time"}}; }

// An object whose members are all required and no other is allowed (what
// the service writes is exactly this): `optional` names those that may be
// left out.
json closed_object(json properties, std::initializer_list<std::string_view> optional = {}) {
  json required = json::array();
  for (const auto& [name, schema] : properties.items()) {
    if (std::find(optional.begin(), optional.end(), name) == optional.end()) required.push_back(name);
  }
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", required},
          {"additionalProperties", false}};
}

json counters(std::initializer_list<std::string_view> names) {
  json properties = json::object();
  for (auto name : names) properties[std::string(name)] = integer_schema();
  return closed_object(std::move(properties));
}

json job_schema() {
  json states = json::array();
  for (auto state : jobs::all_job_states) states.push_back(std::string(jobs::to_string(state)));
  json reasons = json::array();
  for (auto reason : {jobs::StopReason::user_request, jobs::StopReason::deadline, jobs::StopReason::shutdown}) {
    reasons.push_back(std::string(jobs::to_string(reason)));
  }
  reasons.push_back(nullptr);
  json progress = json::object();
  for (const auto& field : crawl::progress_fields) progress[std::string(field.name)] = integer_schema();
  json frontier = counters({"memory_bytes", "seen", "seen_bytes", "spill_bytes", "spilled", "spilled_total"});
  frontier["description"] = "What the crawl holds now (running jobs only): its seen set, its queue in memory, spilled URLs";
  json schema = closed_object(
      {
          {"attempt", integer_schema()},
          {"created_at", time_schema()},
          {"deep", boolean_schema()},
          {"error", nullable_string_schema()},
          {"finished_at", nullable_time_schema()},
          {"frontier", std::move(frontier)},
          {"id", {{"type", "string"}, {"format", "uuid"}}},
          {"instance_id", nullable_string_schema()},
          {"links", closed_object({{"events", string_schema()}, {"pages", string_schema()}, {"self", string_schema()}})},
          {"params", ref("JobParameters")},
          {"progress", closed_object(std::move(progress))},
          {"season", integer_schema()},
          {"started_at", nullable_time_schema()},
          {"state", {{"type", "string"}, {"enum", std::move(states)}}},
          {"stop_reason", {{"type", json::array({"string", "null"})}, {"enum", std::move(reasons)}}},
          {"target", string_schema()},
      },
      {"frontier"});
  schema["description"] = "A crawl job";
  return schema;
}

json status_schema() {
  json states = json::object();
  for (auto state : jobs::all_job_states) states[std::string(jobs::to_string(state))] = integer_schema();
  json database = closed_object(
      {
          {"configured", boolean_schema()},
          {"up", boolean_schema()},
          {"ready", boolean_schema()},
          {"migrated", boolean_schema()},
          {"refused", boolean_schema()},
          {"schema_version", integer_schema()},
          {"instance_id", string_schema()},
          {"last_error", nullable_string_schema()},
          {"last_error_at", nullable_time_schema()},
          {"backlog", counters({"pages", "events", "jobs"})},
          {"accepting_jobs", boolean_schema()},
          {"pages_written", integer_schema()},
          {"rows_fenced", integer_schema()},
          {"rows_rejected", integer_schema()},
      },
      {"up", "ready", "migrated", "refused", "schema_version", "instance_id", "last_error", "last_error_at", "backlog",
       "accepting_jobs", "pages_written", "rows_fenced", "rows_rejected"});
  database["description"] = "The database: only `configured` when there is none";
  json instance = closed_object({{"id", string_schema()},
                                 {"version", string_schema()},
                                 {"started_at", time_schema()},
                                 {"last_heartbeat", time_schema()},
                                 {"running", integer_schema()},
                                 {"slots", integer_schema()},
                                 {"stopping", boolean_schema()}});
  json cluster = closed_object({{"held", integer_schema()},
                                {"instances", {{"type", "array"}, {"items", std::move(instance)}}},
                                {"jobs", counters({"queued", "running"})},
                                {"unavailable", string_schema()}},
                               {"instances", "jobs", "unavailable"});
  cluster["description"] = "Cluster mode only: the live instances and the shared queue";
  json number = {{"type", "number"}};
  return closed_object(
      {
          {"cluster", std::move(cluster)},
          {"database", std::move(database)},
          {"jobs", closed_object(std::move(states))},
          {"limits", counters({"max_queued", "max_running", "max_timeout_s"})},
          {"loop_lag_ms", closed_object({{"last", number}, {"max_1m", number}, {"p99_1m", number}})},
          {"queue_length", integer_schema()},
          {"running", {{"type", "array"}, {"items", ref("Job")}}},
          {"service", string_schema()},
          {"state", {{"type", "string"}, {"enum", {"running", "draining"}}}},
          {"uptime_s", integer_schema()},
          {"version", string_schema()},
      },
      {"cluster", "loop_lag_ms"});
}

// A page of a job's rows: `key` holds them, `next` links the next page.
json window_schema(std::string_view key, std::string_view item) {
  return closed_object({{"job_id", string_schema()},
                        {std::string(key), {{"type", "array"}, {"items", ref(item)}}},
                        {"count", integer_schema()},
                        {"next", nullable_string_schema()}});
}

// A webhook delivery and its attempts (GET /webhooks/deliveries).
json delivery_schema() {
  json nullable_time = {{"type", json::array({"string", "null"})}, {"format", "date-time"}};
  json nullable_integer = {{"type", json::array({"integer", "null"})}};
  json attempt = closed_object({{"n", integer_schema()},
                                {"at", time_schema()},
                                {"status", nullable_integer},
                                {"error", nullable_string_schema()},
                                {"elapsed_ms", integer_schema()}});
  json event = {{"type", "string"}, {"enum", json::array()}};
  for (const char* name : webhook_events) event["enum"].push_back(name);
  return closed_object({{"id", {{"type", "string"}, {"format", "uuid"}, {"description", "its webhook-id header"}}},
                        {"job_id", {{"type", "string"}, {"format", "uuid"}}},
                        {"event", std::move(event)},
                        {"url", string_schema()},
                        {"state", {{"type", "string"}, {"enum", {"pending", "delivered", "failed"}}}},
                        {"attempts", integer_schema()},
                        {"created_at", time_schema()},
                        {"next_attempt_at", nullable_time},
                        {"delivered_at", nullable_time},
                        {"attempt_log", {{"type", "array"}, {"items", std::move(attempt)}}}});
}

json schemas(const Config& config) {
  json problem = {
      {"type", "object"},
      {"description", "An error (RFC 9457); some carry more members, such as the active job of a 409"},
      {"properties",
       {{"type", string_schema()},
        {"title", string_schema()},
        {"status", integer_schema()},
        {"detail", string_schema()},
        {"instance", string_schema()},
        {"errors",
         {{"type", "array"},
          {"items", closed_object({{"field", string_schema()}, {"message", string_schema()}})},
          {"description", "Each invalid field (422)"}}},
        {"job", ref("Job")},
        {"job_id", string_schema()}}},
      {"required", {"type", "title", "status", "detail", "instance"}},
  };
  json start_docs = closed_object({{"description", string_schema()},
                                   {"allowed_parameters", {{"type", "object"}}},
                                   {"parameters", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                                   {"content_types", {{"type", "array"}, {"items", string_schema()}}},
                                   {"responses", {{"type", "object"}}},
                                   {"schema",
                                    {{"type", "object"},
                                     {"description", "POST /start's body as a JSON Schema: the same object as "
                                                     "components.schemas.StartParameters"}}}});
  start_docs["description"] = "GET /start: POST /start's parameters, in words and as a JSON Schema";
  return {
      {"Job", job_schema()},
      {"JobParameters", closed_object({{"deep", boolean_schema()},
                                       {"log_to_db", boolean_schema()},
                                       {"season", integer_schema()},
                                       {"target", string_schema()},
                                       {"timeout", integer_schema()}})},
      {"JobList", closed_object({{"count", integer_schema()},
                                 {"jobs", {{"type", "array"}, {"items", ref("Job")}}},
                                 {"history_unavailable", string_schema()}},
                                {"history_unavailable"})},
      {"Status", status_schema()},
      {"Page", closed_object({{"id", integer_schema()},
                              {"url", string_schema()},
                              {"final_url", nullable_string_schema()},
                              {"depth", integer_schema()},
                              {"status", integer_schema()},
                              {"content_type", nullable_string_schema()},
                              {"bytes", integer_schema()},
                              {"wire_bytes", integer_schema()},
                              {"truncated", boolean_schema()},
                              {"title", nullable_string_schema()},
                              {"sha256", nullable_string_schema()},
                              {"canonical", nullable_string_schema()},
                              {"elapsed_ms", integer_schema()},
                              {"error", nullable_string_schema()},
                              {"fetched_at", time_schema()}})},
      {"PageList", window_schema("pages", "Page")},
      {"Event", closed_object({{"id", integer_schema()}, {"at", time_schema()}, {"level", string_schema()}, {"message", string_schema()}})},
      {"EventList", window_schema("events", "Event")},
      {"Delivery", delivery_schema()},
      {"DeliveryList", closed_object({{"count", integer_schema()},
                                      {"deliveries", {{"type", "array"}, {"items", ref("Delivery")}}}})},
      {"Health", closed_object({{"status", string_schema()}})},
      {"Problem", std::move(problem)},
      {"StartDocs", std::move(start_docs)},
      {"StartParameters", start_schema(config)},
      {"ApiDocument", {{"type", "object"}, {"description", "This document"}}},
  };
}

// The {name} segments of a pattern as path parameters.
json path_parameters(const std::string& pattern) {
  json parameters = json::array();
  for (std::size_t open = pattern.find('{'); open != std::string::npos; open = pattern.find('{', open + 1)) {
    auto close = pattern.find('}', open);
    std::string name = pattern.substr(open + 1, close - open - 1);
    json parameter = {{"name", name}, {"in", "path"}, {"required", true}, {"schema", string_schema()}};
    if (name == "id") {
      parameter["schema"]["format"] = "uuid";
      parameter["description"] = "A job id (a UUID; anything else is 422)";
    }
    parameters.push_back(std::move(parameter));
  }
  return parameters;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

Operation::Operation(std::string id, std::string summary)
    : doc_({{"operationId", std::move(id)}, {"summary", std::move(summary)}, {"responses", json::object()}}) {}

Operation& Operation::describe(std::string text) {
  doc_["description"] = std::move(text);
  return *this;
}

Operation& Operation::reply(int status, std::string description, std::string_view schema) {
  doc_["responses"][std::to_string(status)] = {{"description", std::move(description)},
                                               {"content", content("application/json", ref(schema))}};
  return *this;
}

Operation& Operation::reply_text(int status, std::string description, std::string_view media) {
  doc_["responses"][std::to_string(status)] = {{"description", std::move(description)},
                                               {"content", content(media, string_schema())}};
  return *this;
}

Operation& Operation::or_text(int status, std::string_view media) {
  doc_["responses"][std::to_string(status)]["content"][std::string(media)] = {{"schema", string_schema()}};
  return *this;
}

Operation& Operation::problem(int status, std::string description) {
  doc_["responses"][std::to_string(status)] = {{"description", std::move(description)},
                                               {"content", content("application/problem+json", ref("Problem"))}};
  return *this;
}

Operation& Operation::reply_header(int status, std::string name, std::string description) {
  doc_["responses"][std::to_string(status)]["headers"][std::move(name)] = {{"description", std::move(description)},
                                                                           {"schema", string_schema()}};
  return *this;
}

Operation& Operation::query(std::string name, json schema, std::string description) {
  return parameter("query", std::move(name), std::move(schema), std::move(description));
}

Operation& Operation::request_header(std::string name, json schema, std::string description) {
  return parameter("header", std::move(name), std::move(schema), std::move(description));
}

Operation& Operation::parameter(std::string_view in, std::string name, json schema, std::string description) {
  doc_["parameters"].push_back({{"name", std::move(name)},
                                {"in", std::string(in)},
                                {"required", false},
                                {"schema", std::move(schema)},
                                {"description", std::move(description)}});
  return *this;
}

Operation& Operation::start_body() {
  json body = content("application/json", ref("StartParameters"));
  body["application/x-www-form-urlencoded"] = {{"schema", ref("StartParameters")}};
  doc_["requestBody"] = {
      {"required", false},
      {"description", "The crawl's parameters (all optional): JSON, or a form; a body that starts with '{' is read "
                      "as JSON whatever its Content-Type says"},
      {"content", std::move(body)}};
  return *this;
}

Operation& Operation::open() {
  open_ = true;
  return *this;
}

json Operation::document() const {
  nlohmann::json doc = doc_;
  if (open_) {
    doc["security"] = nlohmann::json::array();
  } else {
    // A token is needed once any is configured (reads: with auth.protect_reads).
    doc["security"] = {{{"bearer", nlohmann::json::array()}}, nlohmann::json::object()};
    doc["responses"]["401"] = {{"description", "a token is configured and the request has no valid one"},
                               {"content", content("application/problem+json", ref("Problem"))}};
    doc["responses"]["401"]["headers"]["WWW-Authenticate"] = {{"description", "Bearer"}, {"schema", string_schema()}};
  }
  doc["responses"]["default"] = {
      {"description", "any other error: a malformed request (400), a method the path does not have (405), a body "
                      "or header over the limits (413, 431), an internal error (500)"},
      {"content", content("application/problem+json", ref("Problem"))}};
  return doc;
}

json openapi_document(const http::Router& router, const Config& config) {
  json paths = json::object();
  router.each_route([&](const std::string& method, const std::string& pattern, const json& operation) {
    auto& item = paths[pattern];
    if (!item.contains("parameters")) {
      auto parameters = path_parameters(pattern);
      if (!parameters.empty()) item["parameters"] = std::move(parameters);
    }
    item[lower(method)] = operation;
  });
  return {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "crawld"},
        {"version", std::string(version)},
        {"description", "Starts web crawls on demand and keeps track of them. Every answer that is not a success is "
                        "application/problem+json."},
       }},
      {"servers", {{{"url", "/"}, {"description", "this instance"}}}},
      {"paths", std::move(paths)},
      {"components",
       {{"schemas", schemas(config)},
        {"securitySchemes",
         {{"bearer",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"description", "A token from auth.tokens or CRAWLD_API_TOKEN"}}}}}}},
  };
}

}  // namespace crawld::api
