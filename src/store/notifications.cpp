#include "crawld/store/notifications.hpp"

#include "db_pool.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

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
    : ioc_(ioc),
      conninfo_(std::move(conninfo)),
      name_(std::move(name)),
      handlers_(std::move(handlers)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

NotificationListener::~NotificationListener() {
  stop();
  ::close(wake_fd_);
}

void NotificationListener::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void NotificationListener::stop() {
  stopping_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void NotificationListener::run() {
  Backoff backoff(100ms, 2s);
  bool was_connected = false;
  while (!stopping_) {
    try {
      listen(was_connected, backoff);
    } catch (const std::exception& error) {
      if (stopping_) break;
      spdlog::warn("cluster: notification connection lost: {}", short_message(error));
      auto delay = backoff.next();
      for (auto waited = 0ms; waited < delay && !stopping_; waited += 50ms) std::this_thread::sleep_for(50ms);
    }
  }
}

// One connection's life: until it breaks (an exception) or stop().
void NotificationListener::listen(bool& was_connected, Backoff& backoff) {
  pqxx::connection c(conninfo_);
  {
    pqxx::nontransaction tx(c);
    tx.exec_params("select set_config('application_name', $1, false)", name_);
  }
  Receiver jobs(c, "crawld_jobs", ioc_, [queued = handlers_.jobs, ended = handlers_.ended](const std::string& payload) {
    payload == ended_payload ? ended() : queued();
  });
  Receiver cancels(c, "crawld_cancel", ioc_, handlers_.cancel);
  if (was_connected) {
    ++reconnects_;
    spdlog::info("cluster: listening for notifications again");
  }
  was_connected = true;
  backoff.reset();
  // Whatever was sent while nobody listened is found by polling.
  asio::post(ioc_, handlers_.connected);
  // Asleep until the server sends something or stop() rings: an idle
  // instance does not wake up for nothing.
  while (!stopping_) {
    pollfd fds[2] = {{c.sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (stopping_) break;
    if (fds[0].revents != 0) c.get_notifs();
    if (!c.is_open()) throw pqxx::broken_connection("the notification connection closed");
  }
}

}  // namespace crawld::store
