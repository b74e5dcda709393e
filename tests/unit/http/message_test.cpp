#include "crawld/http/message.hpp"
#include "crawld/version.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

using crawld::http::parse_form;
using crawld::http::Request;
using crawld::http::split_target;
using Form = std::multimap<std::string, std::string>;

namespace {

Form form_of(std::string_view text) {
  Form form;
  REQUIRE(parse_form(text, form));
  return form;
}

bool malformed(std::string_view text) {
  Form form;
  return !parse_form(text, form);
}

Request request_for(std::string target) {
  Request request;
  request.method = "GET";
  request.target = std::move(target);
  split_target(request);
  return request;
}

}  // namespace

TEST_CASE("parse_form decodes pairs", "[message]") {
  CHECK(form_of("") == Form{});
  CHECK(form_of("deep=true&season=2024") == Form{{"deep", "true"}, {"season", "2024"}});
  CHECK(form_of("a=1&a=2") == Form{{"a", "1"}, {"a", "2"}});
}

TEST_CASE("parse_form: '+' is a space and %XX an escaped byte", "[message]") {
  CHECK(form_of("q=a+b+c") == Form{{"q", "a b c"}});
  CHECK(form_of("a+b=c") == Form{{"a b", "c"}});
  CHECK(form_of("q=%41%62%2b%2B") == Form{{"q", "Ab++"}});
  CHECK(form_of("q=a%20b") == Form{{"q", "a b"}});
  CHECK(form_of("q=%26%3D") == Form{{"q", "&="}});
  CHECK(form_of("%64eep=1") == Form{{"deep", "1"}});
  CHECK(form_of("q=%C3%A9") == Form{{"q", "\xC3\xA9"}});
  CHECK(form_of("q=%00").begin()->second == std::string("\0", 1));
  CHECK(form_of("q=%ff").begin()->second == "\xff");
}

TEST_CASE("parse_form rejects malformed escapes", "[message]") {
  CHECK(malformed("q=%"));
  CHECK(malformed("q=%4"));
  CHECK(malformed("q=%zz"));
  CHECK(malformed("q=%4g"));
  CHECK(malformed("q=%g4"));
  CHECK(malformed("%=1"));
  CHECK(malformed("a=1&b=%x"));
  CHECK(malformed("q=100%"));
  CHECK(malformed("q=%%41"));
}

TEST_CASE("parse_form: empty pairs and missing values", "[message]") {
  CHECK(form_of("&") == Form{});
  CHECK(form_of("&&a=1&&b=2&") == Form{{"a", "1"}, {"b", "2"}});
  CHECK(form_of("deep") == Form{{"deep", ""}});
  CHECK(form_of("deep=") == Form{{"deep", ""}});
  CHECK(form_of("=x") == Form{{"", "x"}});
  CHECK(form_of("a=1=2") == Form{{"a", "1=2"}});
}

TEST_CASE("split_target separates the path from the query", "[message]") {
  SECTION("no query") {
    Request r = request_for("/start");
    CHECK(r.path == "/start");
    CHECK(r.query.empty());
  }
  SECTION("query") {
    Request r = request_for("/start?deep=true&season=2024&x=a+b");
    CHECK(r.path == "/start");
    CHECK(r.query == Form{{"deep", "true"}, {"season", "2024"}, {"x", "a b"}});
    CHECK(r.query_param("deep") == "true");
    CHECK_FALSE(r.query_param("missing").has_value());
  }
  SECTION("absolute form (RFC 9112 3.2.2)") {
    Request r = request_for("HTTP://example.test:8080/jobs?limit=2");
    CHECK(r.path == "/jobs");
    CHECK(r.query_param("limit") == "2");
    CHECK(request_for("http://example.test").path == "/");
    CHECK(request_for("http://example.test?x=1").path == "/");
    CHECK(request_for("/http://not-absolute").path == "/http://not-absolute");
  }
  SECTION("empty query") {
    Request r = request_for("/start?");
    CHECK(r.path == "/start");
    CHECK(r.query.empty());
  }
  SECTION("only the first '?' splits") {
    Request r = request_for("/a?b=1?c");
    CHECK(r.path == "/a");
    CHECK(r.query == Form{{"b", "1?c"}});
  }
  SECTION("the path is not decoded") {
    Request r = request_for("/jobs/a%20b");
    CHECK(r.path == "/jobs/a%20b");
  }
  SECTION("a malformed query does not fail the request") {
    Request r = request_for("/start?a=%zz");
    CHECK(r.path == "/start");
  }
  SECTION("query parameters are replaced, not appended") {
    Request r = request_for("/a?x=1");
    r.target = "/b?y=2";
    split_target(r);
    CHECK(r.path == "/b");
    CHECK(r.query == Form{{"y", "2"}});
  }
}

TEST_CASE("Request::header finds the first header by lower-case name", "[message]") {
  Request r;
  r.headers = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.header("x-a") == "1");
  CHECK_FALSE(r.header("accept").has_value());
}

TEST_CASE("reason phrases", "[message]") {
  CHECK(crawld::http::reason_phrase(200) == "OK");
  CHECK(crawld::http::reason_phrase(404) == "Not Found");
  CHECK(crawld::http::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(crawld::http::reason_phrase(599) == "Unknown");
}

namespace {

// The field lines of a response head, without the status line.
std::vector<std::string> head_lines(const std::string& head) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto end = head.find("\r\n"); end != std::string::npos; end = head.find("\r\n", start)) {
    lines.push_back(head.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

}  // namespace

TEST_CASE("write_response_head: status line, fields in order, Content-Length, blank line", "[message]") {
  crawld::http::Response response;
  response.status = 202;
  response.body = R"({"id":"x"})";
  response.header("Location", "/jobs/x");
  std::string head;
  crawld::http::write_response_head(head, response, 11, true);
  REQUIRE(head.size() > 4);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  auto lines = head_lines(head);
  REQUIRE(lines.size() == 7);  // status, 5 fields, the empty line
  CHECK(lines[0] == "HTTP/1.1 202 Accepted");
  CHECK(lines[1].starts_with("Server: crawld/"));
  CHECK(lines[2] == "Date: " + std::string(crawld::http::http_date_now()));
  CHECK(lines[3] == "Content-Type: application/json");
  CHECK(lines[4] == "Location: /jobs/x");
  CHECK(lines[5] == "Content-Length: 10");
  CHECK(lines[6].empty());
}

TEST_CASE("write_response_head: Connection only where the version's default does not hold", "[message]") {
  crawld::http::Response response;
  std::string head;
  crawld::http::write_response_head(head, response, 11, false);
  CHECK(head.find("\r\nConnection: close\r\n") != std::string::npos);
  crawld::http::write_response_head(head, response, 10, true);
  CHECK(head.starts_with("HTTP/1.0 200 OK\r\n"));
  CHECK(head.find("\r\nConnection: keep-alive\r\n") != std::string::npos);
  for (auto [version, keep_alive] : {std::pair{11u, true}, std::pair{10u, false}}) {
    crawld::http::write_response_head(head, response, version, keep_alive);
    CHECK(head.find("Connection:") == std::string::npos);
  }
}

TEST_CASE("write_response_head: no Content-Length for 204 and 304; 0 for an empty 200", "[message]") {
  crawld::http::Response response;
  std::string head;
  for (int status : {204, 304}) {
    response.status = status;
    crawld::http::write_response_head(head, response, 11, true);
    CHECK(head.find("Content-Length") == std::string::npos);
    CHECK(crawld::http::is_bodiless(status));
  }
  response.status = 200;
  crawld::http::write_response_head(head, response, 11, true);
  CHECK(head.find("\r\nContent-Length: 0\r\n") != std::string::npos);
  CHECK_FALSE(crawld::http::is_bodiless(200));
}

TEST_CASE("write_response_head leaves out a field that could split the response", "[message]") {
  crawld::http::Response response;
  response.header("Location", "/jobs/x\r\nSet-Cookie: a=b");
  response.header("Bad Name", "v");
  response.header("X:Y", "v");
  response.header("", "v");
  response.header("Retry-After", "5");
  std::string head;
  crawld::http::write_response_head(head, response, 11, true);
  CHECK(head.find("Set-Cookie") == std::string::npos);
  CHECK(head.find("Location") == std::string::npos);
  CHECK(head.find("Bad Name") == std::string::npos);
  CHECK(head.find("X:Y") == std::string::npos);
  CHECK(head.find("\r\n: v") == std::string::npos);
  CHECK(head.find("\r\nRetry-After: 5\r\n") != std::string::npos);
  CHECK(head_lines(head).size() == 7);  // status, Server, Date, Content-Type, Retry-After, Content-Length, blank
}

TEST_CASE("write_response_head: many long fields, a long content type and a stream's head are written whole",
          "[message]") {
  crawld::http::Response response;
  response.status = 599;  // no reason phrase of its own
  response.content_type = "application/x-a-content-type-longer-than-the-usual-ones; charset=utf-8; profile=long";
  std::string expected_fields;
  for (int i = 0; i < 40; ++i) {
    std::string name = "X-Field-" + std::to_string(i);
    std::string value(static_cast<std::size_t>(100 + i * 37), static_cast<char>('a' + i % 26));
    expected_fields += name + ": " + value + "\r\n";
    response.header(name, value);
  }
  response.body = std::string(123456, 'b');
  std::string head = "left from the previous response, longer than nothing";
  crawld::http::write_response_head(head, response, 10, true);
  std::string date(crawld::http::http_date_now());
  std::string start = "HTTP/1.0 599 Unknown\r\nServer: crawld/" + std::string(crawld::version) + "\r\nDate: " + date +
                      "\r\nContent-Type: " + std::string(response.content_type) + "\r\n";
  CHECK(head == start + expected_fields + "Connection: keep-alive\r\nContent-Length: 123456\r\n\r\n");

  response.stream = [](crawld::http::Stream&) -> boost::asio::awaitable<void> { co_return; };
  crawld::http::write_response_head(head, response, 11, false);
  CHECK(head.ends_with("\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"));
  CHECK(head.find("Content-Length") == std::string::npos);
  CHECK(head.find(expected_fields) != std::string::npos);
}

TEST_CASE("secret query values are redacted for the log, the rest kept as sent", "[message]") {
  using crawld::http::redact_target;
  CHECK(redact_target("/start") == "/start");
  CHECK(redact_target("/start?access_token=abc&season=2024") == "/start?access_token=***&season=2024");
  CHECK(redact_target("/s?Token=1&API_KEY=2&x_secret=3&pass%77ord=4") == "/s?Token=***&API_KEY=***&x_secret=***&pass%77ord=***");
  CHECK(redact_target("/s?keep=1&novalue&&key=") == "/s?keep=1&novalue&&key=***");
  CHECK(redact_target("/s?") == "/s?");
}

TEST_CASE("an early problem names the request's path, or / when there is none", "[message]") {
  using crawld::http::problem_instance;
  CHECK(problem_instance("/start?x=1", "") == "/start");
  CHECK(problem_instance("", "GET /jobs?limit=5 HTTP/1.1\r\nX-Big: aaaa") == "/jobs");
  CHECK(problem_instance("", "GET") == "/");
  CHECK(problem_instance("", "") == "/");
  CHECK(problem_instance("", "GET * HTTP/1.1\r\n") == "/");
  CHECK(problem_instance("/a\x01b", "") == "/");
}
