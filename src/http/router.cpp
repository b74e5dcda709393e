#include "crawld/http/router.hpp"

#include "crawld/http/problem.hpp"

#include <algorithm>

namespace crawld::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  if (!path.empty() && path.front() == '/') start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

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

void Router::add(std::string method, std::string pattern, Handler handler) {
  Route route{std::move(method), std::move(pattern), {}, std::move(handler)};
  for (auto segment : split_path(route.pattern)) route.segments.emplace_back(segment);
  // After every route at least as specific, so equal patterns keep their
  // registration order (and the Allow header its method order).
  auto position = std::upper_bound(routes_.begin(), routes_.end(), route, [](const Route& a, const Route& b) {
    return more_specific(a.segments, b.segments);
  });
  routes_.insert(position, std::move(route));
}

bool Router::match_path(const Route& route, const std::vector<std::string_view>& segments,
                        std::map<std::string, std::string>* params) {
  if (route.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& expected = route.segments[i];
    if (is_parameter(expected)) {
      if (segments[i].empty()) return false;
      if (params) (*params)[expected.substr(1, expected.size() - 2)] = std::string(segments[i]);
    } else if (expected != segments[i]) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> Router::allowed_methods(std::string_view path) const {
  auto segments = split_path(path);
  std::vector<std::string> methods;
  for (const auto& route : routes_) {
    if (!match_path(route, segments, nullptr)) continue;
    if (std::find(methods.begin(), methods.end(), route.method) == methods.end()) methods.push_back(route.method);
    if (route.method == "GET" && std::find(methods.begin(), methods.end(), "HEAD") == methods.end()) {
      methods.emplace_back("HEAD");
    }
  }
  return methods;
}

Router::Match Router::match(Request& request) const {
  auto segments = split_path(request.path);
  const Route* get_route = nullptr;
  bool path_known = false;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    if (!match_path(route, segments, &params)) continue;
    path_known = true;
    if (route.method == request.method) {
      request.params = std::move(params);
      return {&route.handler, &route.pattern};
    }
    if (route.method == "GET" && request.method == "HEAD" && get_route == nullptr) {
      get_route = &route;
      request.params = std::move(params);
    }
  }
  if (get_route != nullptr) return {&get_route->handler, &get_route->pattern};
  if (!path_known) throw not_found("no resource at " + request.path);
  throw method_not_allowed(allowed_methods(request.path));
}

boost::asio::awaitable<Response> Router::dispatch(Request& request, std::string& route,
                                                 const RequestFilter* filter) const {
  route = "unmatched";
  std::exception_ptr error;
  try {
    auto found = match(request);
    route = *found.route;
    if (filter != nullptr && *filter) (*filter)(request, route);
    co_return co_await (*found.handler)(request);
  } catch (...) {
    error = std::current_exception();
  }
  co_return exception_response(error, request.path);
}

}  // namespace crawld::http
