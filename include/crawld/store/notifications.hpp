// The instance's LISTEN connection (cluster mode): NOTIFYs on crawld_jobs
// (a job was queued: look for a claim; payload 'ended': a job ended on
// some instance, which may make a queued copy of its crawl eligible) and
// crawld_cancel (payload: the job id). It runs on a thread of its own, blocked in libpq,
// and hands each notification to the loop.
//
// A NOTIFY sent while the connection is down is lost, so after every
// (re)connection `connected` is called: the owner then polls for what it
// may have missed (cancels, queued jobs) instead of trusting the stream.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace crawld::store {

class Backoff;

class NotificationListener {
 public:
  struct Handlers {
    std::function<void()> jobs;                        // crawld_jobs
    std::function<void()> ended;                       // crawld_jobs, payload 'ended'
    std::function<void(const std::string&)> cancel;    // crawld_cancel, with the job id
    std::function<void()> connected;                   // listening (again)
  };

  // crawld_jobs' payload when jobs ended (empty: something was queued).
  static constexpr std::string_view ended_payload = "ended";

  // `name` is the connection's application_name (pg_stat_activity).
  NotificationListener(boost::asio::io_context& ioc, std::string conninfo, std::string name, Handlers handlers);
  ~NotificationListener();
  NotificationListener(const NotificationListener&) = delete;
  NotificationListener& operator=(const NotificationListener&) = delete;

  void start();
  // Wakes the thread and joins it.
  void stop();
  // Times the connection was lost and made again.
  std::uint64_t reconnects() const { return reconnects_.load(); }

 private:
  void run();
  void listen(bool& was_connected, Backoff& backoff);

  boost::asio::io_context& ioc_;
  std::string conninfo_;
  std::string name_;
  Handlers handlers_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> reconnects_{0};
  int wake_fd_ = -1;  // an eventfd: stop() rings it
  std::thread thread_;
};

}  // namespace crawld::store
