// Plain request and response types seen by the router and the handlers.
//
// The Beast types stay inside the server's translation unit; handlers and
// their tests work with these small structs and never include Beast.
#pragma once

#include "crawld/http/stream.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crawld::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received: path + optional query
  std::string path;    // target without the query
  std::multimap<std::string, std::string> query;          // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::map<std::string, std::string> params;  // route parameters ("id" for /jobs/{id})
  std::string remote;                         // peer address

  // First header with this (lower-case) name, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // First query parameter with this name, or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string_view content_type = "application/json";  // a literal: its text must outlive the response
  std::string body;
  // A body kept elsewhere, sent instead of `body` when set: a fixed document
  // is then answered without a copy per request.
  std::shared_ptr<const std::string> fixed_body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // Set for a streamed body (stream.hpp): `body` is not sent; the head has
  // no Content-Length, and the connection closes when the stream ends.
  StreamProducer stream;

  std::string_view payload() const { return fixed_body ? std::string_view(*fixed_body) : std::string_view(body); }

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Splits "path?query" and decodes the query (application/x-www-form-urlencoded
// rules: '+' is a space, %XX escapes). Also used for form bodies.
// Returns false when an escape is malformed.
bool parse_form(std::string_view text, std::multimap<std::string, std::string>& out);
void split_target(Request& request);

// The request target as it may be logged: the values of query parameters
// whose names say they hold a secret (token, access_token, api_key, key,
// password, secret, signature, and names ending in _token, _key or
// _secret; any case) replaced by "***". Everything else is kept as sent.
std::string redact_target(std::string_view target);

// The `instance` of a problem answered before the request was read whole:
// the path of `parsed_target` (the parser's, empty when it has none), else
// of the request line at the start of `raw` (bytes not parsed yet); "/" when
// neither holds a printable origin-form path. Without the query, as for
// every other problem.
std::string problem_instance(std::string_view parsed_target, std::string_view raw);

// Reason phrase for a status code ("Not Found").
std::string_view reason_phrase(int status);

// HTTP-date for the Date header (RFC 9110), formatted once a second (the
// view holds until the next call on this thread).
std::string_view http_date_now();

// True for the statuses whose response never has a body (1xx, 204, 304).
bool is_bodiless(int status);

// Writes into `out` the status line and header fields of `response`, ending
// with the blank line: Server, Date, Content-Type, the handler's own fields,
// Connection where the version's default does not hold, Content-Length
// (left out for a bodiless status; a stream has Transfer-Encoding: chunked
// on HTTP/1.1 instead, and nothing on HTTP/1.0, where the close ends it). A field whose name or value could break
// the framing (CR, LF, or in a name ':' or whitespace) is left out and logged.
void write_response_head(std::string& out, const Response& response, unsigned version, bool keep_alive);

}  // namespace crawld::http
