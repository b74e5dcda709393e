#include "crawld/service.hpp"

#include "crawld/api/routes.hpp"
#include "crawld/http/server.hpp"
#include "crawld/logging.hpp"
#include "crawld/metrics/loop_lag.hpp"
#include "crawld/version.hpp"

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <csignal>

namespace crawld {

namespace asio = boost::asio;

struct Service::Impl {
  Config config;
  asio::io_context ioc{1};
  http::Router router;
  api::ApiContext api_context;
  metrics::LoopLagMonitor loop_lag{ioc};
  http::HttpServer server{ioc, config.server, router};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  asio::signal_set hangup{ioc, SIGHUP};
  bool draining = false;
  int exit_code = 0;

  explicit Impl(Config c) : config(std::move(c)) {
    api_context.config = &config;
    api_context.loop_lag = &loop_lag;
    api_context.draining = [this] { return draining; };
    api::register_routes(router, api_context);
    if (config.log.access_log) {
      server.on_request([](const http::RequestRecord& r) {
        spdlog::info("access {} {} {} {} {} {:.3f}ms {}", r.remote, r.method, r.target, r.status, r.bytes,
                     r.seconds * 1000, r.route);
      });
    }
  }

  void wait_signals() {
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (draining) {
        // A second signal: the operator wants out now.
        spdlog::warn("second signal ({}), exiting at once", signal);
        spdlog::default_logger()->flush();
        std::_Exit(130);
      }
      spdlog::info("signal {} received, stopping gracefully", signal);
      draining = true;
      // Re-arm before spawning: co_spawn dispatches, so with no connection
      // open shutdown() runs to its end right here, and its signals.cancel()
      // must find this wait or the loop never runs out of work.
      wait_signals();
      asio::co_spawn(ioc, shutdown(), asio::detached);
    });
  }

  void wait_hangup() {
    hangup.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      reopen_log_file();
      spdlog::info("log file reopened");
      wait_hangup();
    });
  }

  asio::awaitable<void> shutdown() {
    server.stop_accepting();
    co_await server.drain(std::chrono::seconds(2));
    loop_lag.stop();
    signals.cancel();
    hangup.cancel();
    spdlog::info("stopped");
  }

  int run() {
    std::string where = server.listen();
    spdlog::info("crawld {} listening on {}", version, where);
    server.start();
    loop_lag.start();
    wait_signals();
    wait_hangup();
    ioc.run();
    return exit_code;
  }
};

Service::Service(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Service::~Service() = default;
int Service::run() { return impl_->run(); }

}  // namespace crawld
