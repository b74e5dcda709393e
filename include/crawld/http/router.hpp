// Maps method + path to a handler.
//
// Patterns are literal segments and "{name}" parameters ("/jobs/{id}/cancel").
// An unknown path is 404; a known path with another method is 405 with an
// Allow header; HEAD is served by the GET handler wherever one exists (the
// server drops the body). The matched pattern doubles as the metrics label,
// so label cardinality stays bounded whatever paths clients send.
#pragma once

#include "crawld/http/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crawld::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Runs before the handler; may throw ApiError (authentication lives here).
using RequestFilter = std::function<void(const Request&, std::string_view route)>;

class Router {
 public:
  // Segments a pattern may have at most ("/jobs/{id}/cancel" has 3).
  static constexpr std::size_t max_segments = 16;

  // `operation` is what the API document (GET /openapi.json) says of the
  // route: an OpenAPI Operation Object, written beside the handler.
  void add(std::string method, std::string pattern, Handler handler,
           nlohmann::json operation = nlohmann::json::object());
  // A route whose answer never changes (GET /healthz, GET /start): the
  // server sends it as it is, without awaiting a handler or copying it.
  void add(std::string method, std::string pattern, Response fixed,
           nlohmann::json operation = nlohmann::json::object());

  // Calls visit(method, pattern, operation) for every route.
  template <class Visit>
  void each_route(Visit visit) const {
    for (const auto& route : routes_) visit(route.method, route.pattern, route.operation);
  }

  struct Match {
    const Handler* handler = nullptr;
    const std::string* route = nullptr;  // the pattern
    const Response* fixed = nullptr;     // the route's fixed answer, if it has one
  };
  // Fills request.params. Throws ApiError (404, or 405 with Allow).
  Match match(Request& request) const;

  // Routes the request, runs `filter` (if any) and the handler, and turns
  // whatever they throw into its answer (http::exception_response): the one
  // place a request becomes a response. `route` is set to the matched
  // pattern (held by the router), or "unmatched". Everything passed in must
  // outlive the await.
  boost::asio::awaitable<Response> dispatch(Request& request, std::string_view& route,
                                            const RequestFilter* filter = nullptr) const;

  // dispatch() in two steps, for a caller that would rather not await what
  // is known at once. resolve() routes and runs `filter`: the answer is then
  // `fixed` (the route's), or `answer` (the problem routing or the filter
  // threw), or else the handler's, awaited by run().
  struct Resolved {
    const Handler* handler = nullptr;
    const Response* fixed = nullptr;
    std::optional<Response> answer;
  };
  Resolved resolve(Request& request, std::string_view& route, const RequestFilter* filter = nullptr) const;
  // Awaits the handler; what it throws becomes its answer.
  static boost::asio::awaitable<Response> run(const Handler& handler, Request& request);

  // Allowed methods for a path (empty when no route matches the path).
  std::vector<std::string> allowed_methods(std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    nlohmann::json operation;
    std::shared_ptr<const Response> fixed;
  };
  void insert(Route route);
  template <typename Segments>
  static bool match_path(const Route& route, const Segments& segments, std::size_t count);
  template <typename Segments>
  static void fill_params(const Route& route, const Segments& segments, std::map<std::string, std::string>& params);
  std::vector<Route> routes_;
};

}  // namespace crawld::http
