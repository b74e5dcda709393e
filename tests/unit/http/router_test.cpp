#include "crawld/http/router.hpp"

#include "crawld/http/problem.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <string>

namespace asio = boost::asio;
using crawld::http::ApiError;
using crawld::http::Request;
using crawld::http::Response;
using crawld::http::Router;

namespace {

// A handler whose body names it, so a test can tell which one ran.
crawld::http::Handler named(std::string name) {
  return [name](Request& request) -> asio::awaitable<Response> {
    Response response;
    response.body = name;
    for (const auto& [key, value] : request.params) response.body += " " + key + "=" + value;
    co_return response;
  };
}

Request make_request(std::string method, std::string target) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  crawld::http::split_target(request);
  return request;
}

// Routes the request and runs the handler the way the server does.
Response call(const Router& router, Request& request) {
  auto match = router.match(request);
  REQUIRE(match.handler != nullptr);
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, (*match.handler)(request), asio::use_future);
  ioc.run();
  return future.get();
}

Response call(const Router& router, std::string method, std::string target) {
  Request request = make_request(std::move(method), std::move(target));
  return call(router, request);
}

// The ApiError match() throws for the request.
ApiError error_of(const Router& router, std::string method, std::string target) {
  Request request = make_request(std::move(method), std::move(target));
  try {
    router.match(request);
  } catch (const ApiError& error) {
    return error;
  }
  FAIL("expected an ApiError for " << request.method << " " << request.target);
  throw;  // unreachable
}

std::string header_of(const ApiError& error, const std::string& name) {
  for (const auto& [key, value] : error.headers()) {
    if (key == name) return value;
  }
  return "(absent)";
}

Router api_router() {
  Router router;
  router.add("GET", "/start", named("get-start"));
  router.add("POST", "/start", named("post-start"));
  router.add("GET", "/healthz", named("healthz"));
  router.add("GET", "/jobs/{id}", named("get-job"));
  router.add("DELETE", "/jobs/{job}", named("delete-job"));
  router.add("POST", "/jobs/{id}/cancel", named("cancel-job"));
  router.add("GET", "/", named("root"));
  return router;
}

}  // namespace

TEST_CASE("the route matching method and path handles the request", "[router]") {
  Router router = api_router();
  CHECK(call(router, "GET", "/start").body == "get-start");
  CHECK(call(router, "POST", "/start").body == "post-start");
  CHECK(call(router, "GET", "/healthz").body == "healthz");
  CHECK(call(router, "GET", "/").body == "root");
  CHECK(call(router, "GET", "/start?deep=true").body == "get-start");
}

TEST_CASE("match returns the pattern as the route label", "[router]") {
  Router router = api_router();
  Request request = make_request("GET", "/jobs/42");
  auto match = router.match(request);
  REQUIRE(match.route != nullptr);
  CHECK(*match.route == "/jobs/{id}");
}

TEST_CASE("unknown paths are 404", "[router]") {
  Router router = api_router();
  for (const char* target : {"/nope", "/start/", "/starts", "/start/x", "/jobs", "/jobs/", "/jobs/1/cancel/x",
                             "/jobs//cancel", "//start", "/START"}) {
    INFO(target);
    ApiError error = error_of(router, "GET", target);
    CHECK(error.status() == 404);
    CHECK(error.slug() == "not-found");
    CHECK(header_of(error, "Allow") == "(absent)");
  }
}

TEST_CASE("a known path with another method is 405 with Allow", "[router]") {
  Router router = api_router();
  SECTION("GET only: HEAD is allowed too") {
    ApiError error = error_of(router, "POST", "/healthz");
    CHECK(error.status() == 405);
    CHECK(header_of(error, "Allow") == "GET, HEAD");
  }
  SECTION("GET and POST") {
    ApiError error = error_of(router, "DELETE", "/start");
    CHECK(error.status() == 405);
    CHECK(header_of(error, "Allow") == "GET, HEAD, POST");
    CHECK_THAT(error.detail(), Catch::Matchers::Contains("GET, HEAD, POST"));
  }
  SECTION("routes with the same shape and different parameter names share the path") {
    ApiError error = error_of(router, "PUT", "/jobs/7");
    CHECK(error.status() == 405);
    CHECK(header_of(error, "Allow") == "GET, HEAD, DELETE");
  }
  SECTION("POST only: no HEAD") {
    ApiError error = error_of(router, "GET", "/jobs/7/cancel");
    CHECK(error.status() == 405);
    CHECK(header_of(error, "Allow") == "POST");
  }
  SECTION("methods are case-sensitive") { CHECK(error_of(router, "get", "/start").status() == 405); }
}

TEST_CASE("allowed_methods lists each method once", "[router]") {
  Router router = api_router();
  router.add("GET", "/start", named("second-get"));
  CHECK(router.allowed_methods("/start") == std::vector<std::string>{"GET", "HEAD", "POST"});
  CHECK(router.allowed_methods("/nope").empty());
}

TEST_CASE("HEAD is served by the GET handler", "[router]") {
  Router router = api_router();
  CHECK(call(router, "HEAD", "/start").body == "get-start");
  Request request = make_request("HEAD", "/jobs/9");
  CHECK(call(router, request).body == "get-job id=9");
  CHECK(request.params.at("id") == "9");
  // No GET route on the path: HEAD is not allowed either.
  ApiError error = error_of(router, "HEAD", "/jobs/9/cancel");
  CHECK(error.status() == 405);
  CHECK(header_of(error, "Allow") == "POST");
}

TEST_CASE("an explicit HEAD route wins over the GET fallback", "[router]") {
  Router router;
  router.add("GET", "/x", named("get"));
  router.add("HEAD", "/x", named("head"));
  CHECK(call(router, "HEAD", "/x").body == "head");
  CHECK(call(router, "GET", "/x").body == "get");
}

TEST_CASE("parameters are extracted by name", "[router]") {
  Router router = api_router();
  Request request = make_request("POST", "/jobs/abc-123/cancel?force=1");
  CHECK(call(router, request).body == "cancel-job id=abc-123");
  CHECK(request.params == std::map<std::string, std::string>{{"id", "abc-123"}});
}

TEST_CASE("routes with the same shape keep their own parameter names", "[router]") {
  Router router = api_router();
  Request get = make_request("GET", "/jobs/5");
  CHECK(call(router, get).body == "get-job id=5");
  Request del = make_request("DELETE", "/jobs/5");
  CHECK(call(router, del).body == "delete-job job=5");
  CHECK(del.params.count("id") == 0);
}

TEST_CASE("a literal segment wins over a parameter whatever the order of registration", "[router]") {
  Router router;
  router.add("GET", "/jobs/{id}", named("job"));
  router.add("GET", "/jobs/active", named("active"));
  router.add("GET", "/jobs/{id}/pages", named("pages"));
  CHECK(call(router, "GET", "/jobs/active").body == "active");
  CHECK(call(router, "GET", "/jobs/7").body == "job id=7");
  CHECK(call(router, "GET", "/jobs/active/pages").body == "pages id=active");
}

TEST_CASE("specificity holds among routes of different lengths", "[router]") {
  Router router;
  router.add("GET", "/x/{id}", named("param"));
  router.add("GET", "/x", named("short"));
  router.add("GET", "/x/active", named("literal"));
  router.add("GET", "/{any}/active", named("leading-param"));
  CHECK(call(router, "GET", "/x/active").body == "literal");
  CHECK(call(router, "GET", "/x/7").body == "param id=7");
  CHECK(call(router, "GET", "/x").body == "short");
  CHECK(call(router, "GET", "/y/active").body == "leading-param any=y");
}

TEST_CASE("an empty router answers 404", "[router]") {
  Router router;
  CHECK(error_of(router, "GET", "/").status() == 404);
}

TEST_CASE("a fixed route is resolved to the one response it holds, for GET and HEAD", "[router]") {
  Router router = api_router();
  Response fixed;
  fixed.body = R"({"status":"ok"})";
  fixed.header("Cache-Control", "no-cache");
  router.add("GET", "/fixed", std::move(fixed));

  std::string_view route;
  Request get = make_request("GET", "/fixed");
  auto first = router.resolve(get, route);
  CHECK(route == "/fixed");
  REQUIRE(first.fixed != nullptr);
  CHECK(first.fixed->payload() == R"({"status":"ok"})");
  CHECK(first.fixed->headers.size() == 1);
  CHECK_FALSE(first.answer);
  Request head = make_request("HEAD", "/fixed");
  CHECK(router.resolve(head, route).fixed == first.fixed);  // the same response, not a copy

  // Through the handler (as dispatch() and every other caller) it is the same answer.
  CHECK(call(router, "GET", "/fixed").payload() == R"({"status":"ok"})");
  // Other routes are awaited as before.
  Request other = make_request("GET", "/healthz");
  auto resolved = router.resolve(other, route);
  CHECK(resolved.fixed == nullptr);
  CHECK(resolved.handler != nullptr);
}

TEST_CASE("resolve: routing errors and a filter's refusal are the answer, fixed route or not", "[router]") {
  Router router = api_router();
  router.add("GET", "/fixed", Response{});
  crawld::http::RequestFilter filter = [](const Request& request, std::string_view route) {
    if (!request.header("authorization")) throw crawld::http::unauthorized("a token is needed for " + std::string(route));
  };
  std::string_view route;
  Request request = make_request("GET", "/fixed");
  auto refused = router.resolve(request, route, &filter);
  CHECK(route == "/fixed");
  CHECK(refused.fixed == nullptr);
  CHECK(refused.handler == nullptr);
  REQUIRE(refused.answer);
  CHECK(refused.answer->status == 401);

  Request unknown = make_request("GET", "/nowhere");
  auto missing = router.resolve(unknown, route, &filter);
  CHECK(route == "unmatched");
  REQUIRE(missing.answer);
  CHECK(missing.answer->status == 404);

  Request wrong = make_request("DELETE", "/fixed");
  auto not_allowed = router.resolve(wrong, route);
  REQUIRE(not_allowed.answer);
  CHECK(not_allowed.answer->status == 405);
}

TEST_CASE("dispatch answers a fixed route, and a handler's exception as its problem", "[router]") {
  Router router;
  Response fixed;
  fixed.status = 200;
  fixed.body = "fixed";
  router.add("GET", "/fixed", std::move(fixed));
  router.add("GET", "/throws", [](Request&) -> asio::awaitable<Response> {
    throw crawld::http::conflict("busy");
    co_return Response{};
  });
  auto dispatch = [&router](std::string target) {
    Request request = make_request("GET", std::move(target));
    std::string_view route;
    asio::io_context ioc;
    auto future = asio::co_spawn(ioc, router.dispatch(request, route), asio::use_future);
    ioc.run();
    return future.get();
  };
  CHECK(dispatch("/fixed").payload() == "fixed");
  CHECK(dispatch("/throws").status == 409);
  CHECK(dispatch("/missing").status == 404);
}

TEST_CASE("a fixed route cannot be a stream", "[router]") {
  Router router;
  Response streamed;
  streamed.stream = [](crawld::http::Stream&) -> asio::awaitable<void> { co_return; };
  CHECK_THROWS_AS(router.add("GET", "/events", std::move(streamed)), std::invalid_argument);
}
