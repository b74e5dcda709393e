#include "crawld/api/routes.hpp"

#include "crawld/api/start_params.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/metrics/loop_lag.hpp"
#include "crawld/version.hpp"

#include <nlohmann/json.hpp>

namespace crawld::api {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using nlohmann::json;

namespace {

Response json_response(int status, const json& body) {
  Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

}  // namespace

void register_routes(http::Router& router, ApiContext& context) {
  ApiContext* ctx = &context;

  // The docs document depends only on the configuration: render it once.
  auto docs = std::make_shared<std::string>(start_docs(*context.config).dump(2));
  router.add("GET", "/start", [docs](Request&) -> asio::awaitable<Response> {
    Response response;
    response.body = *docs;
    co_return response;
  });

  router.add("POST", "/start", [ctx](Request& request) -> asio::awaitable<Response> {
    auto params = parse_start_params(request.header("content-type").value_or(""), request.body, *ctx->config);
    (void)params;
    throw http::ApiError(501, "not-implemented", "Not Implemented", "starting crawls is not available yet");
    co_return Response{};
  });

  router.add("GET", "/healthz", [](Request&) -> asio::awaitable<Response> {
    co_return json_response(200, {{"status", "ok"}});
  });
}

}  // namespace crawld::api
