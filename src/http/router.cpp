#include "crawld/http/router.hpp"

#include "crawld/http/problem.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace crawld::http {
namespace {

// The segments of a path (or a pattern), split without allocating: a path
// of more segments than a pattern may have matches no route.
struct PathSegments {
  std::array<std::string_view, Router::max_segments> items;
  std::size_t count = 0;
  bool too_many = false;

  explicit PathSegments(std::string_view path) {
    std::size_t start = !path.empty() && path.front() == '/' ? 1 : 0;
    while (start <= path.size()) {
      auto slash = path.find('/', start);
      if (slash == std::string_view::npos) slash = path.size();
      if (count == items.size()) {
        too_many = true;
        return;
      }
      items[count++] = path.substr(start, slash - start);
      start = slash + 1;
    }
  }
};

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Orders patterns so that, at the first segment where they differ in kind, a
// literal comes before a parameter: "/jobs/active" is tried before
// "/jobs/{id}" whichever was registered first. Patterns of different lengths
// never match the same path; ordering them by length keeps this a strict
// weak order, which the sorted insertion in add() relies on.
bool more_specific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    bool a_param = is_parameter(a[i]);
    bool b_param = is_parameter(b[i]);
    if (a_param != b_param) return !a_param;
  }
  return false;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, nlohmann::json operation) {
  insert(Route{std::move(method), std::move(pattern), {}, std::move(handler), std::move(operation), nullptr});
}

void Router::add(std::string method, std::string pattern, Response fixed, nlohmann::json operation) {
  if (fixed.stream) throw std::invalid_argument("a fixed response cannot be a stream: " + pattern);
  if (!fixed.fixed_body) fixed.fixed_body = std::make_shared<const std::string>(std::move(fixed.body));
  fixed.body.clear();
  auto answer = std::make_shared<const Response>(std::move(fixed));
  Handler handler = [answer](Request&) -> boost::asio::awaitable<Response> { co_return *answer; };
  insert(Route{std::move(method), std::move(pattern), {}, std::move(handler), std::move(operation), answer});
}

void Router::insert(Route route) {
  const PathSegments segments(route.pattern);
  if (segments.too_many) throw std::invalid_argument("route pattern has too many segments: " + route.pattern);
  route.segments.assign(segments.items.begin(), segments.items.begin() + static_cast<std::ptrdiff_t>(segments.count));
  // After every route at least as specific, so equal patterns keep their
  // registration order (and the Allow header its method order).
  auto position = std::upper_bound(routes_.begin(), routes_.end(), route, [](const Route& a, const Route& b) {
    return more_specific(a.segments, b.segments);
  });
  routes_.insert(position, std::move(route));
}

template <typename Segments>
bool Router::match_path(const Route& route, const Segments& segments, std::size_t count) {
  if (route.segments.size() != count) return false;
  for (std::size_t i = 0; i < count; ++i) {
    const auto& expected = route.segments[i];
    if (is_parameter(expected)) {
      if (segments[i].empty()) return false;
    } else if (expected != segments[i]) {
      return false;
    }
  }
  return true;
}

template <typename Segments>
void Router::fill_params(const Route& route, const Segments& segments, std::map<std::string, std::string>& params) {
  params.clear();
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    const auto& expected = route.segments[i];
    if (is_parameter(expected)) params[expected.substr(1, expected.size() - 2)] = std::string(segments[i]);
  }
}

std::vector<std::string> Router::allowed_methods(std::string_view path) const {
  const PathSegments segments(path);
  std::vector<std::string> methods;
  for (const auto& route : routes_) {
    if (segments.too_many || !match_path(route, segments.items, segments.count)) continue;
    if (std::find(methods.begin(), methods.end(), route.method) == methods.end()) methods.push_back(route.method);
    if (route.method == "GET" && std::find(methods.begin(), methods.end(), "HEAD") == methods.end()) {
      methods.emplace_back("HEAD");
    }
  }
  return methods;
}

Router::Match Router::match(Request& request) const {
  const PathSegments segments(request.path);
  const Route* get_route = nullptr;
  bool path_known = false;
  for (const auto& route : routes_) {
    if (segments.too_many || !match_path(route, segments.items, segments.count)) continue;
    path_known = true;
    if (route.method == request.method) {
      fill_params(route, segments.items, request.params);
      return {&route.handler, &route.pattern, route.fixed.get()};
    }
    if (route.method == "GET" && request.method == "HEAD" && get_route == nullptr) get_route = &route;
  }
  if (get_route != nullptr) {
    fill_params(*get_route, segments.items, request.params);
    return {&get_route->handler, &get_route->pattern, get_route->fixed.get()};
  }
  if (!path_known) throw not_found("no resource at " + request.path);
  throw method_not_allowed(allowed_methods(request.path));
}

boost::asio::awaitable<Response> Router::dispatch(Request& request, std::string_view& route,
                                                 const RequestFilter* filter) const {
  Resolved resolved = resolve(request, route, filter);
  if (resolved.fixed != nullptr) co_return *resolved.fixed;
  if (resolved.answer) co_return std::move(*resolved.answer);
  co_return co_await run(*resolved.handler, request);
}

Router::Resolved Router::resolve(Request& request, std::string_view& route, const RequestFilter* filter) const {
  route = "unmatched";
  Resolved resolved;
  try {
    auto found = match(request);
    route = *found.route;
    if (filter != nullptr && *filter) (*filter)(request, route);
    resolved.handler = found.handler;
    resolved.fixed = found.fixed;
  } catch (...) {
    resolved.answer = exception_response(std::current_exception(), request.path);
  }
  return resolved;
}

boost::asio::awaitable<Response> Router::run(const Handler& handler, Request& request) {
  std::exception_ptr error;
  try {
    co_return co_await handler(request);
  } catch (...) {
    error = std::current_exception();
  }
  co_return exception_response(error, request.path);
}

}  // namespace crawld::http
