#include "crawld/store/notifications.hpp"

#include "db_pool.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

namespace crawld::store {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Hands each notification on the channel to the loop.
class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& c, const std::string& channel, asio::io_context& ioc,
           std::function<void(const std::string&)> handle)
      : pqxx::notification_receiver(c, channel), ioc_(ioc), handle_(std::move(handle)) {}
  void operator()(const std::string& payload, int) override {
    asio::post(ioc_, [handle = handle_, payload] { handle(payload); });
  }

 private:
  asio::io_context& ioc_;
  std::function<void(const std::string&)> handle_;
};

}  // namespace

NotificationListener::NotificationListener(asio::io_context& ioc, std::string conninfo, std::string name,
                                           Handlers handlers)
    : ioc_(ioc), conninfo_(std::move(conninfo)), name_(std::move(name)), handlers_(std::move(handlers)) {}

NotificationListener::~NotificationListener() { stop(); }

void NotificationListener::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void NotificationListener::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void NotificationListener::run() {
  Backoff backoff(100ms, 2s);
  bool was_connected = false;
  while (!stopping_) {
    try {
      pqxx::connection c(conninfo_);
      {
        pqxx::nontransaction tx(c);
        tx.exec_params("select set_config('application_name', $1, false)", name_);
      }
      Receiver jobs(c, "crawld_jobs", ioc_, [handle = handlers_.jobs](const std::string&) { handle(); });
      Receiver cancels(c, "crawld_cancel", ioc_, handlers_.cancel);
      if (was_connected) {
        ++reconnects_;
        spdlog::info("cluster: listening for notifications again");
      }
      was_connected = true;
      backoff.reset();
      // Whatever was sent while nobody listened is found by polling.
      asio::post(ioc_, handlers_.connected);
      while (!stopping_) {
        c.await_notification(0, 250'000);
        if (!c.is_open()) throw pqxx::broken_connection("the notification connection closed");
      }
    } catch (const std::exception& error) {
      if (stopping_) break;
      spdlog::warn("cluster: notification connection lost: {}", short_message(error));
      auto delay = backoff.next();
      for (auto waited = 0ms; waited < delay && !stopping_; waited += 50ms) std::this_thread::sleep_for(50ms);
    }
  }
}

}  // namespace crawld::store
