// The API document is generated from the routes the service registers.
#include "crawld/api/openapi.hpp"
#include "crawld/api/routes.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/jobs/job_service.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <set>
#include <string>

namespace asio = boost::asio;
using namespace crawld;
using nlohmann::json;

namespace {

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

TEST_CASE("the API document has every route the service registers, and only those", "[api]") {
  Config config;
  asio::io_context ioc;
  jobs::JobService jobs{ioc, config.jobs, [](const jobs::Job&, std::shared_ptr<crawl::CrawlControl>)
                                              -> asio::awaitable<crawl::CrawlResult> { co_return crawl::CrawlResult{}; }};
  http::Router router;
  api::ApiContext context;
  context.config = &config;
  context.jobs = &jobs;
  api::register_routes(router, context);
  const json document = api::openapi_document(router, config);

  CHECK(document["openapi"] == "3.1.0");
  std::set<std::string> ids;
  std::size_t routes = 0;
  router.each_route([&](const std::string& method, const std::string& pattern, const json&) {
    ++routes;
    CAPTURE(method, pattern);
    REQUIRE(document["paths"].contains(pattern));
    const auto& item = document["paths"][pattern];
    REQUIRE(item.contains(lower(method)));
    const auto& operation = item[lower(method)];
    CHECK(ids.insert(operation["operationId"].get<std::string>()).second);  // unique
    CHECK(!operation["summary"].get<std::string>().empty());
    CHECK(operation["responses"].contains("default"));
    bool success = false;
    for (const auto& [status, response] : operation["responses"].items()) success = success || status[0] == '2';
    CHECK(success);
    // Each {name} of the pattern is a declared path parameter.
    if (pattern.find('{') != std::string::npos) {
      REQUIRE(item.contains("parameters"));
      CHECK(item["parameters"][0]["name"] == "id");
      CHECK(item["parameters"][0]["in"] == "path");
    }
  });
  std::size_t documented = 0;
  for (const auto& [path, item] : document["paths"].items()) {
    for (const auto& [key, value] : item.items()) documented += key == "parameters" ? 0 : 1;
  }
  CHECK(documented == routes);
  CHECK(document["paths"].contains("/openapi.json"));  // itself too

  // POST /start's body is the schema GET /start publishes.
  CHECK(document["components"]["schemas"]["StartParameters"] == api::start_schema(config));
  CHECK(api::start_docs(config)["schema"] == api::start_schema(config));
  // Every $ref names a schema that is there.
  std::function<void(const json&)> refs = [&](const json& node) {
    if (node.is_object()) {
      if (node.contains("$ref")) {
        auto name = node["$ref"].get<std::string>().substr(std::string("#/components/schemas/").size());
        CAPTURE(name);
        CHECK(document["components"]["schemas"].contains(name));
      }
      for (const auto& [key, value] : node.items()) refs(value);
    } else if (node.is_array()) {
      for (const auto& value : node) refs(value);
    }
  };
  refs(document);
}
