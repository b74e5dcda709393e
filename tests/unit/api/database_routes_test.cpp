// The database endpoints when the database cannot answer (no server needed:
// the store points at a closed port and is never started).
#include "crawld/api/routes.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/store/store.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace asio = boost::asio;
using namespace crawld;

namespace {

struct Api {
  Config config;
  asio::io_context ioc;
  // A crawl of the target "slow" runs until it is cancelled; others end at once.
  jobs::JobService jobs{ioc, config.jobs,
                        [](const jobs::Job& job, std::shared_ptr<crawl::CrawlControl>)
                            -> asio::awaitable<crawl::CrawlResult> {
                          if (job.params.target == "slow") {
                            asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::hours(1));
                            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
                          }
                          co_return crawl::CrawlResult{};
                        }};
  std::unique_ptr<store::Store> store;
  http::Router router;
  api::ApiContext context;

  explicit Api(bool with_store) {
    if (with_store) {
      DatabaseConfig db;
      db.url = "postgresql://crawld@127.0.0.1:1/crawld";
      db.read_timeout_ms = 200;
      store = std::make_unique<store::Store>(ioc, db, "test:1");
      context.store = store.get();
      jobs.set_history(&store->repository());
    }
    context.config = &config;
    context.jobs = &jobs;
    api::register_routes(router, context);
  }

  // Status and body of a request, through the router's dispatch: what a
  // client gets, a leaked exception included (it would be a 500).
  std::pair<int, nlohmann::json> call(const std::string& target) {
    auto response = respond(target);
    return {response.status, nlohmann::json::parse(response.payload())};
  }

  // The loop runs until the answer is there (a slow crawl keeps it busy).
  http::Response respond(const std::string& target) {
    http::Request request;
    request.method = "GET";
    request.target = target;
    http::split_target(request);
    std::string_view route;
    auto future = asio::co_spawn(ioc, router.dispatch(request, route), asio::use_future);
    ioc.restart();
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ioc.run_one_for(std::chrono::milliseconds(10));
    }
    return future.get();
  }
};

const std::string some_job = "/jobs/00000000-0000-4000-8000-000000000000";

}  // namespace

TEST_CASE("database down: readiness and history endpoints answer 503 at once", "[api][store]") {
  Api api(true);
  auto [ready_status, ready] = api.call("/readyz");
  CHECK(ready_status == 503);
  CHECK(ready["detail"].get<std::string>().find("database not ready") != std::string::npos);

  CHECK(api.call(some_job + "/pages").first == 503);
  CHECK(api.call(some_job + "/events").first == 503);
  auto [job_status, job] = api.call(some_job);  // not in memory: only the database could say
  CHECK(job_status == 503);
  CHECK(job["detail"].get<std::string>().find("database unavailable") != std::string::npos);

  auto [list_status, list] = api.call("/jobs");
  CHECK(list_status == 200);
  CHECK(list.contains("history_unavailable"));

  auto [status_code, status] = api.call("/status");
  CHECK(status_code == 200);
  CHECK(status["database"]["configured"] == true);
  CHECK(status["database"]["ready"] == false);
}

TEST_CASE("pages and events validate their window", "[api][store]") {
  Api api(true);
  auto [status, body] = api.call(some_job + "/pages?limit=0&after=x");
  // Invalid values are 422, as for POST /start, naming every field.
  CHECK(status == 422);
  CHECK(body["errors"].size() == 2);
  CHECK(api.call(some_job + "/events?limit=1001").first == 422);
  CHECK(api.call("/jobs/not-a-uuid/pages").first == 422);
  CHECK(api.call("/jobs?limit=0&status=done").second["errors"].size() == 2);
}

TEST_CASE("without a database: ready, and pages are not available", "[api][store]") {
  Api api(false);
  CHECK(api.call("/readyz").first == 200);
  CHECK(api.call(some_job + "/pages").first == 503);
  CHECK(api.call(some_job).first == 404);
  auto [code, status] = api.call("/status");
  CHECK(status["database"]["configured"] == false);
}

TEST_CASE("GET /status is written as nlohmann would write the same document", "[api]") {
  // Written by hand for speed; its bytes must be those of a JSON tree's
  // dump: keys sorted, numbers as nlohmann formats them.
  for (bool with_store : {false, true}) {
    CAPTURE(with_store);
    Api api(with_store);
    for (int i = 0; i < 2; ++i) {
      jobs::JobParams params;
      params.target = "slow";
      params.season = 2020 + i;
      params.deep = i == 1;
      params.timeout_s = 60;
      REQUIRE(api.jobs.submit(params).job);
    }
    auto response = api.respond("/status");
    CHECK(response.status == 200);
    const std::string body(response.payload());
    auto document = nlohmann::json::parse(body);
    CHECK(document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) == body);
    CHECK(document["running"].size() == 2);
    CHECK(document["jobs"]["running"] == 2);
    CHECK(document["service"] == "crawld");
    CHECK(document["state"] == "running");
    CHECK(document["database"]["configured"] == with_store);
    CHECK(document["limits"]["max_running"] == api.config.jobs.max_running);
  }
}
