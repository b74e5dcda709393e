// libFuzzer: raw bytes on a connection, through the real HTTP server (Beast
// parser, limits, framing checks), the real router and the POST /start
// parameter parsing, to the bytes that come back.
//
// Each input is written to a fresh loopback connection, which is then
// half-closed; the server's answers are read until it closes. Whatever
// arrived, the server must close within a few seconds, what it sent must be a
// sequence of well-formed HTTP/1.x responses, and none may be a 5xx: bad
// input is the client's error, never the server's.
#include "crawld/api/job_json.hpp"
#include "crawld/api/start_params.hpp"
#include "crawld/config.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/http/router.hpp"
#include "crawld/http/server.hpp"
#include "crawld/jobs/job.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using crawld::http::Request;
using crawld::http::Response;

// The server, its router and its configuration live for the whole run.
struct Harness {
  asio::io_context ioc{1};
  crawld::Config config;
  crawld::http::Router router;
  std::unique_ptr<crawld::http::HttpServer> server;
  tcp::endpoint endpoint;

  Harness() {
    config.server.listen = "127.0.0.1";
    config.server.port = 0;
    config.server.max_header_bytes = 2048;
    config.server.max_body_bytes = 4096;
    config.server.request_timeout_ms = 2000;
    config.server.idle_timeout_ms = 2000;
    config.crawl.targets.push_back({"league", {"http://127.0.0.1/{season}"}, {}, 0, 3, 100});
    config.crawl.targets.push_back({"cup", {"http://127.0.0.1/cup/{season}"}, {}, 0, 3, 100});

    auto docs = std::make_shared<std::string>(crawld::api::start_docs(config).dump());
    router.add("GET", "/start", [docs](Request&) -> asio::awaitable<Response> {
      Response response;
      response.body = *docs;
      co_return response;
    });
    router.add("POST", "/start", [this](Request& request) -> asio::awaitable<Response> {
      auto params =
          crawld::api::parse_start_params(request.header("content-type").value_or(""), request.body, config);
      Response response;
      response.status = 202;
      response.body = crawld::api::params_json(params);
      co_return response;
    });
    auto job = [](Request& request) -> asio::awaitable<Response> {
      const std::string& id = request.params["id"];
      if (!crawld::jobs::is_valid_job_id(id)) throw crawld::http::bad_request("malformed job id");
      throw crawld::http::not_found("no job " + id);
      co_return Response{};
    };
    router.add("GET", "/jobs/{id}", job);
    router.add("DELETE", "/jobs/{id}", job);
    router.add("POST", "/jobs/{id}/cancel", job);
    router.add("GET", "/jobs", [](Request& request) -> asio::awaitable<Response> {
      nlohmann::json query = nlohmann::json::object();
      for (const auto& [name, value] : request.query) query[name] = value;
      co_return crawld::http::json_response(200, {{"query", query}});
    });

    server = std::make_unique<crawld::http::HttpServer>(ioc, config.server, router);
    std::string where = server->listen();
    auto port = static_cast<std::uint16_t>(std::stoi(where.substr(where.rfind(':') + 1)));
    endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
    server->start();
  }
};

// Splits what the server sent into responses; aborts on anything malformed
// or on a server error.
void check_responses(std::string_view rest) {
  while (!rest.empty()) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1 << 20);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!ec && !parser.is_header_done() && used < rest.size()) {
      used += parser.put(asio::buffer(rest.data() + used, rest.size() - used), ec);
    }
    if (ec || !parser.is_header_done()) {
      std::fprintf(stderr, "malformed response head: %s\n", ec.message().c_str());
      std::abort();
    }
    int status = parser.get().result_int();
    if (status < 200 || status >= 500) {
      std::fprintf(stderr, "server answered %d\n", status);
      std::abort();
    }
    // An answer to HEAD announces a length but carries no body: the next
    // response (or the end) follows its head directly.
    std::string_view after = rest.substr(used);
    bool head_answer = after.empty() || after.starts_with("HTTP/1.");
    if (!head_answer) {
      while (!ec && !parser.is_done() && used < rest.size()) {
        used += parser.put(asio::buffer(rest.data() + used, rest.size() - used), ec);
      }
      if (ec || !parser.is_done()) {
        std::fprintf(stderr, "malformed response body: %s\n", ec.message().c_str());
        std::abort();
      }
    }
    rest.remove_prefix(used);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness harness;
  boost::system::error_code ec;

  // libFuzzer's own timer signals (-timeout, -max_total_time) interrupt
  // blocking calls: an interrupted connect starts over on a fresh socket.
  tcp::socket client(harness.ioc);
  for (int attempt = 0;; ++attempt) {
    client.connect(harness.endpoint, ec);
    if (!ec) break;
    if (ec != asio::error::interrupted || attempt == 10) {
      std::fprintf(stderr, "connect failed: %s\n", ec.message().c_str());
      std::abort();
    }
    client = tcp::socket(harness.ioc);
  }
  // Loopback buffers hold the whole input (libFuzzer's -max_len keeps it
  // small), so this write completes before the loop runs.
  std::size_t sent = 0;
  while (sent < size) {
    sent += client.write_some(asio::buffer(data + sent, size - sent), ec);
    if (ec && ec != asio::error::interrupted) break;  // the server closed early: it answered already
  }
  client.shutdown(tcp::socket::shutdown_send, ec);

  std::string received;
  bool done = false;
  asio::async_read(client, asio::dynamic_buffer(received),
                   [&](const boost::system::error_code&, std::size_t) { done = true; });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    harness.ioc.run_one_for(std::chrono::milliseconds(100));
  }
  if (!done) {
    std::fprintf(stderr, "the server neither answered nor closed the connection within 5 s\n");
    std::abort();
  }
  check_responses(received);
  return 0;
}
