// Support for the database tests: the run's shared cluster (started by the
// CTest fixture "pg"), a private database per test, a dedicated cluster for
// tests that take the server down, and running coroutines to completion.
#pragma once

#include "crawld/store/store.hpp"

#include <boost/asio.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <functional>
#include <string>

namespace crawld::test {

// URL of the fixture's cluster (its "crawld" database).
std::string cluster_url();

// `url` pointing at database `name` instead.
std::string url_with_database(const std::string& url, const std::string& name);

// A fresh database with a random name, dropped at the end of the test.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& server_url = cluster_url());
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  // A one-off statement; returns the first column of the first row (or "").
  std::string scalar(const std::string& sql) const;
  void exec(const std::string& sql) const;

 private:
  std::string server_url_;
  std::string name_;
  std::string url_;
};

// A cluster of its own, for tests that stop and restart the server.
class ThrowawayCluster {
 public:
  ThrowawayCluster();
  ~ThrowawayCluster();
  const std::string& url() const { return url_; }
  void stop();   // immediate: like a crash
  void start();  // same data, same port

 private:
  std::string dir_;
  int port_ = 0;
  std::string url_;
};

// Runs `body` on `ioc` to completion, then closes the store (also when the
// body throws), and rethrows the body's exception.
void run_with_store(boost::asio::io_context& ioc, store::Store& store,
                    std::function<boost::asio::awaitable<void>()> body,
                    std::chrono::milliseconds close_timeout = std::chrono::seconds(10));

// Polls `condition` on the loop every 20 ms until it holds or `timeout`.
boost::asio::awaitable<bool> eventually(std::function<bool()> condition, std::chrono::milliseconds timeout);

// Runs a blocking function on a helper thread without stalling the loop.
boost::asio::awaitable<void> off_loop(std::function<void()> work);

// Database settings for tests: small batches, short timeouts.
DatabaseConfig test_config(const std::string& url);

}  // namespace crawld::test
