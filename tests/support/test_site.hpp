// Runs tests/support/test_site.py as a child process for one test.
//
// The constructor starts the site and reads its port from the first line of
// its output; the destructor stops it. `log()` and `reset()` talk to the
// site's /__log and /__reset over plain HTTP (not available in TLS mode).
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace crawld::test {

class TestSite {
 public:
  // `script`: another server of tests/support that prints its port first
  // (dns_server.py).
  explicit TestSite(std::vector<std::string> options = {}, const std::string& script = "test_site.py") {
    std::vector<std::string> args{CRAWLD_PYTHON, std::string(CRAWLD_SOURCE_DIR) + "/tests/support/" + script};
    for (auto& option : options) args.push_back(std::move(option));
    tls_ = std::find(args.begin(), args.end(), "--tls") != args.end();
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char ch = 0;
    while (read(out[0], &ch, 1) == 1 && ch != '\n') line.push_back(ch);
    close(out[0]);
    if (line.empty()) {
      stop();
      throw std::runtime_error("test site did not start");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line));
  }

  ~TestSite() { stop(); }
  TestSite(const TestSite&) = delete;
  TestSite& operator=(const TestSite&) = delete;

  std::uint16_t port() const { return port_; }
  std::string origin(const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_);
  }
  std::string url(const std::string& path) const { return origin() + path; }
  std::string host_key() const { return "127.0.0.1:" + std::to_string(port_); }

  nlohmann::json log() const { return nlohmann::json::parse(get("/__log")); }
  std::vector<std::string> requests() const { return log()["requests"].get<std::vector<std::string>>(); }
  std::set<std::string> requested_paths() const {
    auto list = requests();
    return {list.begin(), list.end()};
  }
  void reset() const { get("/__reset"); }

 private:
  std::string get(const std::string& target) const {
    namespace http = boost::beast::http;
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::connection, "close");
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    return response.body();
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  bool tls_ = false;
};

}  // namespace crawld::test
