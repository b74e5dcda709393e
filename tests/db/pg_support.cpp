#include "pg_support.hpp"

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace crawld::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string random_suffix() {
  static std::mt19937_64 random(std::random_device{}());
  std::ostringstream out;
  out << std::hex << random();
  return out.str();
}

int free_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

void run_command(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

std::string capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run: " + command);
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  if (pclose(pipe) != 0) throw std::runtime_error("command failed: " + command);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

const std::string pg_script = std::string(CRAWLD_SOURCE_DIR) + "/scripts/pg";

}  // namespace

std::string cluster_url() {
  std::ifstream in(CRAWLD_PG_URL_FILE);
  std::string url;
  if (!(in >> url)) {
    throw std::runtime_error(std::string("no test cluster: ") + CRAWLD_PG_URL_FILE +
                             " missing (run through ctest, which starts the \"pg\" fixture)");
  }
  return url;
}

std::string url_with_database(const std::string& url, const std::string& name) {
  auto slash = url.rfind('/');
  auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

TestDatabase::TestDatabase(const std::string& server_url)
    : server_url_(server_url), name_("crawld_test_" + random_suffix()), url_(url_with_database(server_url, name_)) {
  pqxx::connection connection(server_url_);
  pqxx::nontransaction tx(connection);
  tx.exec("create database " + name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection connection(server_url_);
    pqxx::nontransaction tx(connection);
    tx.exec("drop database if exists " + name_ + " with (force)");
  } catch (...) {
    // The cluster may be gone already (outage tests); it is thrown away anyway.
  }
}

std::string TestDatabase::scalar(const std::string& sql) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  auto rows = tx.exec(sql);
  if (rows.empty() || rows[0].empty() || rows[0][0].is_null()) return {};
  return rows[0][0].as<std::string>();
}

void TestDatabase::exec(const std::string& sql) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  tx.exec(sql);
}

ThrowawayCluster::ThrowawayCluster() {
  dir_ = capture("mktemp -d /tmp/crawld-pg-outage.XXXXXX");
  port_ = free_port();
  url_ = capture(pg_script + " start " + dir_ + " " + std::to_string(port_));
}

ThrowawayCluster::~ThrowawayCluster() {
  std::system((pg_script + " stop " + dir_ + " immediate >/dev/null 2>&1").c_str());
  std::system(("rm -rf " + dir_).c_str());
}

void ThrowawayCluster::stop() { run_command(pg_script + " stop " + dir_ + " immediate"); }

void ThrowawayCluster::start() {
  run_command(pg_script + " start " + dir_ + " " + std::to_string(port_) + " >/dev/null");
}

void run_with_store(asio::io_context& ioc, store::Store& store, std::function<asio::awaitable<void>()> body,
                    std::chrono::milliseconds close_timeout) {
  auto wrapper = [&store, close_timeout](std::function<asio::awaitable<void>()> body) -> asio::awaitable<void> {
    std::exception_ptr error;
    try {
      co_await body();
    } catch (...) {
      error = std::current_exception();
    }
    co_await store.close(close_timeout);
    if (error) std::rethrow_exception(error);
  };
  auto done = asio::co_spawn(ioc, wrapper(std::move(body)), asio::use_future);
  ioc.run();
  done.get();
}

asio::awaitable<bool> eventually(std::function<bool()> condition, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    timer.expires_after(20ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return true;
}

asio::awaitable<void> off_loop(std::function<void()> work) {
  asio::thread_pool helper(1);
  co_await asio::co_spawn(
      helper,
      [work = std::move(work)]() -> asio::awaitable<int> {
        work();
        co_return 0;
      },
      asio::use_awaitable);
  helper.join();
}

DatabaseConfig test_config(const std::string& url) {
  DatabaseConfig config;
  config.url = url;
  config.threads = 2;
  config.batch_rows = 50;
  config.flush_ms = 20;
  config.statement_timeout_ms = 5'000;
  config.read_timeout_ms = 2'000;
  config.max_backlog_rows = 100'000;
  config.instance_id = "test:1";
  return config;
}

}  // namespace crawld::test
