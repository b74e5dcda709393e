#include "crawld/api/job_json.hpp"
#include "crawld/api/start_params.hpp"

#include "crawld/http/problem.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using crawld::Config;
using crawld::api::parse_start_params;
using crawld::api::StartParams;
using crawld::http::ApiError;
using nlohmann::json;

namespace {

constexpr const char* json_type = "application/json";
constexpr const char* form_type = "application/x-www-form-urlencoded";

Config config_with_targets(std::initializer_list<const char*> names) {
  Config config;
  config.crawl.current_season = 2024;
  config.crawl.min_season = 1900;
  config.crawl.max_season = 2100;
  config.jobs.default_timeout_s = 300;
  config.jobs.max_timeout_s = 3600;
  for (const char* name : names) {
    crawld::TargetConfig target;
    target.name = name;
    target.seeds = {"https://example.org/{season}"};
    config.crawl.targets.push_back(target);
  }
  return config;
}

const Config& one_target() {
  static const Config config = config_with_targets({"league"});
  return config;
}

const Config& two_targets() {
  static const Config config = config_with_targets({"league", "cup"});
  return config;
}

StartParams parse(std::string_view type, std::string_view body, const Config& config = one_target()) {
  return parse_start_params(type, body, config);
}

// The ApiError parsing throws.
ApiError error_of(std::string_view type, std::string_view body, const Config& config = one_target()) {
  try {
    parse_start_params(type, body, config);
  } catch (const ApiError& error) {
    return error;
  }
  FAIL("expected an ApiError for body " << body);
  throw;  // unreachable
}

// field -> message of a 422.
std::map<std::string, std::string> field_errors(std::string_view type, std::string_view body,
                                                const Config& config = one_target()) {
  ApiError error = error_of(type, body, config);
  REQUIRE(error.status() == 422);
  std::map<std::string, std::string> fields;
  for (const auto& e : error.errors()) fields[e.field] = e.message;
  return fields;
}

StartParams defaults() {
  StartParams params;
  params.target = "league";
  params.season = 2024;
  params.deep = false;
  params.timeout_s = 300;
  params.log_to_db = true;
  return params;
}

const json& find_parameter(const json& docs, const std::string& name) {
  for (const auto& entry : docs["parameters"]) {
    if (entry["name"] == name) return entry;
  }
  FAIL("no parameter " << name);
  throw;  // unreachable
}

}  // namespace

TEST_CASE("GET /start docs keep the seed's keys", "[start_params][docs]") {
  json docs = crawld::api::start_docs(one_target());
  CHECK(docs["description"] == "Start the crawler by calling this endpoint via post.");
  REQUIRE(docs["allowed_parameters"].is_object());
  CHECK(docs["allowed_parameters"]["deep"] == "boolean");
  CHECK(docs["allowed_parameters"]["season"] == "number");
  CHECK(docs["allowed_parameters"]["timeout"] == "number");
  CHECK(docs["allowed_parameters"]["log_to_db"] == "boolean");
  CHECK(docs["allowed_parameters"]["target"] == "string");
  CHECK(docs["allowed_parameters"].size() == 5);
  CHECK(docs["content_types"] == json::array({"application/json", "application/x-www-form-urlencoded"}));
  CHECK(docs["schema"] == crawld::api::start_schema(one_target()));
}

TEST_CASE("the parameters list documents every parameter", "[start_params][docs]") {
  json docs = crawld::api::start_docs(one_target());
  REQUIRE(docs["parameters"].is_array());
  REQUIRE(docs["parameters"].size() == 5);
  for (const auto& entry : docs["parameters"]) {
    INFO(entry.dump());
    CHECK(entry.contains("name"));
    CHECK(entry.contains("type"));
    CHECK(entry.contains("default"));
    CHECK(entry.contains("required"));
    CHECK(entry["description"].is_string());
    CHECK_FALSE(entry["description"].get<std::string>().empty());
  }

  const json& deep = find_parameter(docs, "deep");
  CHECK(deep["type"] == "boolean");
  CHECK(deep["default"] == false);
  CHECK(deep["required"] == false);

  const json& season = find_parameter(docs, "season");
  CHECK(season["type"] == "integer");
  CHECK(season["default"] == 2024);
  CHECK(season["minimum"] == 1900);
  CHECK(season["maximum"] == 2100);

  const json& timeout = find_parameter(docs, "timeout");
  CHECK(timeout["type"] == "integer");
  CHECK(timeout["default"] == 300);
  CHECK(timeout["minimum"] == 1);
  CHECK(timeout["maximum"] == 3600);

  const json& log_to_db = find_parameter(docs, "log_to_db");
  CHECK(log_to_db["type"] == "boolean");
  CHECK(log_to_db["default"] == true);

  const json& target = find_parameter(docs, "target");
  CHECK(target["type"] == "string");
  CHECK(target["default"] == "league");
  CHECK(target["required"] == false);
  CHECK(target["choices"] == json::array({"league"}));
}

TEST_CASE("with two targets, target is required and has no default", "[start_params][docs]") {
  json docs = crawld::api::start_docs(two_targets());
  const json& target = find_parameter(docs, "target");
  CHECK(target["default"].is_null());
  CHECK(target["required"] == true);
  CHECK(target["choices"] == json::array({"league", "cup"}));
  CHECK(docs["schema"]["required"] == json::array({"target"}));
}

TEST_CASE("the docs follow the configuration", "[start_params][docs]") {
  Config config = one_target();
  config.crawl.current_season = 2001;
  config.crawl.min_season = 2000;
  config.crawl.max_season = 2010;
  config.jobs.default_timeout_s = 60;
  config.jobs.max_timeout_s = 120;
  json docs = crawld::api::start_docs(config);
  CHECK(find_parameter(docs, "season")["default"] == 2001);
  CHECK(find_parameter(docs, "season")["minimum"] == 2000);
  CHECK(find_parameter(docs, "season")["maximum"] == 2010);
  CHECK(find_parameter(docs, "timeout")["default"] == 60);
  CHECK(find_parameter(docs, "timeout")["maximum"] == 120);
}

TEST_CASE("the JSON Schema has the expected shape", "[start_params][schema]") {
  json schema = crawld::api::start_schema(one_target());
  CHECK(schema["$schema"] == "http://json-schema.org/draft-07/schema#");
  CHECK(schema["type"] == "object");
  CHECK(schema["additionalProperties"] == false);
  CHECK_FALSE(schema.contains("required"));
  const json& p = schema["properties"];
  CHECK(p.size() == 5);
  CHECK(p["deep"]["type"] == "boolean");
  CHECK(p["deep"]["default"] == false);
  CHECK(p["season"]["type"] == "integer");
  CHECK(p["season"]["minimum"] == 1900);
  CHECK(p["season"]["maximum"] == 2100);
  CHECK(p["season"]["default"] == 2024);
  CHECK(p["timeout"]["type"] == "integer");
  CHECK(p["timeout"]["minimum"] == 1);
  CHECK(p["timeout"]["maximum"] == 3600);
  CHECK(p["log_to_db"]["type"] == "boolean");
  CHECK(p["target"]["type"] == "string");
  CHECK(p["target"]["enum"] == json::array({"league"}));
  CHECK(p["target"]["default"] == "league");
  for (const auto& [name, property] : p.items()) {
    INFO(name);
    CHECK(property["description"].is_string());
  }
}

TEST_CASE("an empty body gives the defaults", "[start_params]") {
  CHECK(parse(json_type, "") == defaults());
  CHECK(parse(json_type, "  \r\n\t") == defaults());
  CHECK(parse(form_type, "") == defaults());
  CHECK(parse("", "") == defaults());
  // No body: the content type does not matter.
  CHECK(parse("text/plain", "") == defaults());
  CHECK(parse(json_type, "{}") == defaults());
}

TEST_CASE("JSON bodies", "[start_params][json]") {
  StartParams p = parse(json_type, R"({"deep": true, "season": 2019, "timeout": 60, "log_to_db": false,
                                       "target": "league"})");
  CHECK(p.deep);
  CHECK(p.season == 2019);
  CHECK(p.timeout_s == 60);
  CHECK_FALSE(p.log_to_db);
  CHECK(p.target == "league");
  CHECK(json::parse(crawld::api::params_json(p)) ==
        json{{"target", "league"}, {"season", 2019}, {"deep", true}, {"timeout", 60}, {"log_to_db", false}});
}

TEST_CASE("the media type is matched without parameters and case", "[start_params][json]") {
  CHECK(parse("application/json; charset=utf-8", R"({"deep": true})").deep);
  CHECK(parse("Application/JSON", R"({"deep": true})").deep);
  CHECK(parse("application/x-www-form-urlencoded; charset=UTF-8", "deep=true").deep);
}

TEST_CASE("JSON that curl -d labels as a form is read as JSON", "[start_params][json]") {
  // curl -X POST .../start -d '{"deep":true,"season":2024}' sends a form type.
  StartParams p = parse(form_type, R"({"deep":true,"season":2024})");
  CHECK(p.deep);
  CHECK(p.season == 2024);
  CHECK(parse(form_type, R"(  {"deep": false})") == defaults());
  // It is held to JSON's rules then: bad JSON is a 400, wrong types a 422.
  CHECK(error_of(form_type, R"({"deep": tru})").status() == 400);
  CHECK(field_errors(form_type, R"({"deep": "yes"})").count("deep") == 1);
  CHECK(field_errors(form_type, R"({"depth": 1})").count("depth") == 1);
  // A form stays a form.
  CHECK(parse(form_type, "deep=true&season=2019").season == 2019);
}

TEST_CASE("without a content type the body's first character decides", "[start_params]") {
  CHECK(parse("", R"(  {"deep": true})").deep);
  CHECK(parse("", "deep=true").deep);
}

TEST_CASE("JSON integers: 2024.0 counts as an integer, 2024.5 does not", "[start_params][json]") {
  CHECK(parse(json_type, R"({"season": 2024.0})").season == 2024);
  CHECK(parse(json_type, R"({"season": 2.019e3})").season == 2019);
  CHECK(parse(json_type, R"({"season": 1900})").season == 1900);
  CHECK(parse(json_type, R"({"season": 2100})").season == 2100);
  CHECK(parse(json_type, R"({"timeout": 3600})").timeout_s == 3600);

  auto fields = field_errors(json_type, R"({"season": 2024.5})");
  CHECK(fields == std::map<std::string, std::string>{{"season", "expected integer 1900-2100, got 2024.5"}});
  CHECK(field_errors(json_type, R"({"season": 1899})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": 2101})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": "2024"})").at("season") == R"(expected integer 1900-2100, got "2024")");
  CHECK(field_errors(json_type, R"({"season": true})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": null})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": [2024]})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": 18446744073709551615})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": -9223372036854775808})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"season": 1e300})").count("season") == 1);
  CHECK(field_errors(json_type, R"({"timeout": 0})").at("timeout") == "expected integer 1-3600, got 0");
  CHECK(field_errors(json_type, R"({"timeout": 3601})").count("timeout") == 1);
}

TEST_CASE("JSON booleans must be booleans", "[start_params][json]") {
  CHECK(field_errors(json_type, R"({"deep": "true"})") ==
        std::map<std::string, std::string>{{"deep", R"(expected boolean, got "true")"}});
  CHECK(field_errors(json_type, R"({"deep": 1})").at("deep") == "expected boolean, got 1");
  CHECK(field_errors(json_type, R"({"deep": null})").count("deep") == 1);
  CHECK(field_errors(json_type, R"({"log_to_db": "false"})").count("log_to_db") == 1);
}

TEST_CASE("unknown parameters are rejected", "[start_params][json]") {
  CHECK(field_errors(json_type, R"({"deep": true, "depth": 3})") ==
        std::map<std::string, std::string>{{"depth", "unknown parameter"}});
  CHECK(field_errors(json_type, R"({"Deep": true})").at("Deep") == "unknown parameter");
  CHECK(field_errors(json_type, R"({"": 1})").at("") == "unknown parameter");
}

TEST_CASE("every invalid field is named in one answer", "[start_params][json]") {
  ApiError error = error_of(json_type, R"({"deep": "yes", "season": 1, "timeout": -5, "log_to_db": 0,
                                          "target": "nope", "x": 1})");
  CHECK(error.status() == 422);
  CHECK(error.slug() == "validation-error");
  CHECK(error.errors().size() == 6);
}

TEST_CASE("long parameter values are shortened in messages", "[start_params][json]") {
  std::string body = R"({"target": ")" + std::string(500, 'x') + R"("})";
  std::string message = field_errors(json_type, body).at("target");
  CHECK_THAT(message, Contains("..."));
  CHECK(message.size() < 100);
}

TEST_CASE("deeply nested JSON is described without recursing through it", "[start_params][json]") {
  // 30,000 levels: dumping the whole value for the message overflowed the stack.
  std::string nested = std::string(30000, '[') + std::string(30000, ']');
  ApiError error = error_of(json_type, nested);
  CHECK(error.status() == 400);
  CHECK_THAT(error.what(), Contains("expected a JSON object, got [[[["));
  std::string field = R"({"season": )" + nested + "}";
  CHECK_THAT(field_errors(json_type, field).at("season"), Contains("got [[[["));
  CHECK_THAT(error_of(json_type, "[1, 2, 3]").what(), Contains("got [1,2,3]"));
  CHECK_THAT(error_of(json_type, R"([{"a": [true, null]}])").what(), Contains(R"(got [{"a":[true,null]}])"));
}

TEST_CASE("target", "[start_params]") {
  SECTION("one target: optional, defaults to it") {
    CHECK(parse(json_type, "{}").target == "league");
    CHECK(parse(json_type, R"({"target": "league"})").target == "league");
  }
  SECTION("unknown target") {
    CHECK(field_errors(json_type, R"({"target": "cup"})").at("target") == R"(expected one of "league", got "cup")");
    CHECK(field_errors(json_type, R"({"target": 1})").count("target") == 1);
    CHECK(field_errors(form_type, "target=cup").count("target") == 1);
  }
  SECTION("two targets: required") {
    CHECK(field_errors(json_type, "{}", two_targets()) ==
          std::map<std::string, std::string>{{"target", R"(required: expected one of "league" "cup")"}});
    CHECK(field_errors(json_type, "", two_targets()).count("target") == 1);
    CHECK(field_errors(form_type, "deep=1", two_targets()).count("target") == 1);
    CHECK(parse(json_type, R"({"target": "cup"})", two_targets()).target == "cup");
    CHECK(parse(form_type, "target=league", two_targets()).target == "league");
  }
  SECTION("an invalid target is named once, not also as missing") {
    auto error = error_of(json_type, R"({"target": "nope"})", two_targets());
    REQUIRE(error.errors().size() == 1);
    CHECK(error.errors()[0].field == "target");
  }
  SECTION("no targets configured") {
    Config none = config_with_targets({});
    CHECK(field_errors(json_type, "{}", none).at("target") == "required: no targets are configured");
  }
}

TEST_CASE("JSON syntax errors are 400 and name the byte position", "[start_params][json]") {
  ApiError error = error_of(json_type, R"({"deep": tru})");
  CHECK(error.status() == 400);
  CHECK_THAT(error.detail(), StartsWith("invalid JSON at byte "));
  // The position is 1-based: the 13th byte, "}", is where "tru" stops being a literal.
  CHECK_THAT(error.detail(), Contains("at byte 13:"));

  CHECK(error_of(json_type, R"({"deep": true)").status() == 400);
  CHECK(error_of(json_type, R"({"deep": true} x)").status() == 400);
  CHECK(error_of(json_type, "{\"target\": \"\xff\"}").status() == 400);
  CHECK(error_of(json_type, "not json").status() == 400);
}

TEST_CASE("numbers JSON cannot represent are a 400, not a server error", "[start_params][json]") {
  // nlohmann reports an overflowing number as out_of_range, not as a
  // parse_error; it is still the client's malformed body.
  ApiError error = error_of(json_type, R"({"season": 1e400})");
  CHECK(error.status() == 400);
  CHECK(error.detail() == "invalid JSON: number overflow parsing '1e400'");
}

TEST_CASE("a JSON body must be an object", "[start_params][json]") {
  for (const char* body : {"[]", "null", "true", "2024", R"("deep")", R"([{"deep": true}])"}) {
    INFO(body);
    ApiError error = error_of(json_type, body);
    CHECK(error.status() == 400);
    CHECK_THAT(error.detail(), StartsWith("expected a JSON object, got "));
  }
}

TEST_CASE("unsupported content types are 415", "[start_params]") {
  for (const char* type : {"text/plain", "application/xml", "multipart/form-data; boundary=x", "application/jsonx"}) {
    INFO(type);
    ApiError error = error_of(type, R"({"deep": true})");
    CHECK(error.status() == 415);
    CHECK_THAT(error.detail(), Contains(type));
  }
}

TEST_CASE("form bodies", "[start_params][form]") {
  StartParams p = parse(form_type, "deep=true&season=2019&timeout=60&log_to_db=false&target=league");
  CHECK(p.deep);
  CHECK(p.season == 2019);
  CHECK(p.timeout_s == 60);
  CHECK_FALSE(p.log_to_db);
  CHECK(p.target == "league");

  for (const char* yes : {"true", "TRUE", "True", "1", "yes", "Yes"}) {
    INFO(yes);
    CHECK(parse(form_type, std::string("deep=") + yes).deep);
  }
  for (const char* no : {"false", "FALSE", "0", "no", "NO"}) {
    INFO(no);
    CHECK_FALSE(parse(form_type, std::string("deep=true&log_to_db=") + no).log_to_db);
  }
  CHECK(parse(form_type, "season=%32%30%32%30").season == 2020);
  CHECK(parse(form_type, "&&deep=1&&").deep);
}

TEST_CASE("bad form values", "[start_params][form]") {
  CHECK(field_errors(form_type, "deep=maybe").at("deep") == R"(expected boolean (true/false/1/0/yes/no), got "maybe")");
  CHECK(field_errors(form_type, "deep=").count("deep") == 1);
  CHECK(field_errors(form_type, "deep").count("deep") == 1);
  CHECK(field_errors(form_type, "deep=+true").count("deep") == 1);
  CHECK(field_errors(form_type, "season=2024.0").at("season") == R"(expected integer 1900-2100, got "2024.0")");
  CHECK(field_errors(form_type, "season=abc").count("season") == 1);
  CHECK(field_errors(form_type, "season=").count("season") == 1);
  CHECK(field_errors(form_type, "season=-").count("season") == 1);
  CHECK(field_errors(form_type, "season=+2024").count("season") == 1);
  CHECK(field_errors(form_type, "season=2024-").count("season") == 1);
  CHECK(field_errors(form_type, "season=99999999999999999999999").count("season") == 1);
  CHECK(field_errors(form_type, "season=1899").count("season") == 1);
  CHECK(field_errors(form_type, "timeout=0").count("timeout") == 1);
  CHECK(field_errors(form_type, "depth=3").at("depth") == "unknown parameter");
}

TEST_CASE("a form key given twice is an error, named once", "[start_params][form]") {
  ApiError error = error_of(form_type, "deep=true&deep=false&season=2020");
  REQUIRE(error.status() == 422);
  REQUIRE(error.errors().size() == 1);
  CHECK(error.errors()[0].field == "deep");
  CHECK(error.errors()[0].message == "given more than once");
  CHECK(field_errors(form_type, "target=league&target=league", two_targets()).at("target") == "given more than once");
  CHECK(field_errors(form_type, "season=2020&season=2020&season=2021").size() == 1);
}

TEST_CASE("a malformed form body is 400", "[start_params][form]") {
  ApiError error = error_of(form_type, "deep=%zz");
  CHECK(error.status() == 400);
  CHECK_THAT(error.detail(), Contains("percent-encoding"));
}
