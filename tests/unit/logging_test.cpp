#include "crawld/logging.hpp"
#include "crawld/util/json_text.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

using crawld::job_id_of;

namespace {
std::string json_escape(std::string_view text) {
  std::string out;
  crawld::util::append_json_escaped(out, text);
  return out;
}
}  // namespace

TEST_CASE("job ids are lifted from lines about a job", "[logging]") {
  const std::string id = "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e";
  CHECK(job_id_of("job " + id + ": crawl started") == id);
  CHECK(job_id_of("job " + id + " was running when this instance last stopped") == id);
  CHECK(job_id_of("job " + id) == id);
  CHECK(job_id_of("job " + id + "x: not an id boundary").empty());
  CHECK(job_id_of("listening on 127.0.0.1:8080").empty());
  CHECK(job_id_of("job not-a-uuid-at-all-but-36-characters!!: x").empty());
  CHECK(job_id_of("jobs " + id).empty());
  CHECK(job_id_of("access 127.0.0.1 GET /jobs/" + id + " 200 573 0.059ms") == id);
  CHECK(job_id_of("access 127.0.0.1 POST /jobs/" + id + "/cancel 202 1 0.1ms") == id);
  CHECK(job_id_of("access 127.0.0.1 GET /jobs/not-a-job 400 1 0.1ms").empty());
  CHECK(job_id_of("").empty());
}

TEST_CASE("JSON escaping keeps log lines one valid JSON object", "[logging]") {
  CHECK(json_escape("plain") == "plain");
  CHECK(json_escape("quote \" backslash \\") == "quote \\\" backslash \\\\");
  CHECK(json_escape("line\nbreak\ttab") == "line\\nbreak\\ttab");
  CHECK(json_escape(std::string("nul\0byte", 8)) == "nul\\u0000byte");
  CHECK(json_escape("\x1b[31m") == "\\u001b[31m");
  // Invalid UTF-8 becomes U+FFFD: the line stays valid JSON.
  CHECK(json_escape("bad \xff byte") == "bad \xef\xbf\xbd byte");
  CHECK(json_escape("caf\xc3\xa9") == "caf\xc3\xa9");
}

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count_of(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// A log file of its own, and the default logging back afterwards.
struct LogFile {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("crawld-logging-test-" + std::to_string(::getpid()) + ".log");
  LogFile() { std::filesystem::remove(path); }
  ~LogFile() {
    crawld::setup_logging(crawld::LogConfig{});
    std::filesystem::remove(path);
  }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  void use(std::uint32_t flush_ms, const std::string& format = "text") const {
    crawld::LogConfig config;
    config.file = path.string();
    config.flush_ms = flush_ms;
    config.format = format;
    crawld::setup_logging(config);
  }
  std::string text() const { return read_all(path); }
};

}  // namespace

TEST_CASE("the access log is written in batches: when flushed or full, never a line lost", "[logging]") {
  LogFile log;
  log.use(60'000);
  crawld::access_logger().info("access 127.0.0.1 GET /healthz 200 2 0.010ms");
  spdlog::info("an ordinary line");
  CHECK(count_of(log.text(), "an ordinary line") == 1);  // other lines: at once
  CHECK(count_of(log.text(), "GET /healthz") == 0);
  crawld::flush_access_log();
  auto text = log.text();
  CHECK(count_of(text, "GET /healthz") == 1);
  // The same line format as every other line.
  CHECK(text.find(" info  access 127.0.0.1 GET /healthz 200 2 0.010ms\n") != std::string::npos);

  // More than the buffer holds: the full buffer is handed to the sink's
  // thread, which writes it without waiting for the period (a minute) or a
  // flush.
  constexpr int lines = 2000;
  for (int i = 0; i < lines; ++i) crawld::access_logger().info("access 127.0.0.1 GET /status?n={} 200 900 0.1ms", i);
  const auto logged = std::chrono::steady_clock::now();
  while (count_of(log.text(), "GET /status?n=") == 0 && std::chrono::steady_clock::now() - logged < 10s) {
    std::this_thread::sleep_for(5ms);
  }
  // (It writes what it has by then, maybe every line.)
  CHECK(count_of(log.text(), "GET /status?n=") > 0);
  crawld::flush_access_log();
  text = log.text();
  CHECK(count_of(text, "GET /status?n=") == lines);
  CHECK(count_of(text, "\n") == lines + 2);

  // Reopening (SIGHUP) writes what was buffered first.
  crawld::access_logger().info("access 127.0.0.1 GET /before-reopen 200 1 0.1ms");
  crawld::reopen_log_file();
  CHECK(count_of(log.text(), "/before-reopen") == 1);
}

TEST_CASE("the access log's flush_ms: 0 writes at once, otherwise within flush_ms", "[logging]") {
  LogFile log;
  log.use(0);
  crawld::access_logger().info("access 127.0.0.1 GET /at-once 200 1 0.1ms");
  CHECK(count_of(log.text(), "/at-once") == 1);

  constexpr std::uint32_t flush_ms = 50;
  log.use(flush_ms);
  const auto logged = std::chrono::steady_clock::now();
  crawld::access_logger().info("access 127.0.0.1 GET /soon 200 1 0.1ms");
  // Slack for sanitizer builds: twenty times the period.
  while (count_of(log.text(), "/soon") == 0 && std::chrono::steady_clock::now() - logged < flush_ms * 20 * 1ms) {
    std::this_thread::sleep_for(5ms);
  }
  CHECK(count_of(log.text(), "/soon") == 1);
}

TEST_CASE("the access log's JSON lines are the default logger's format", "[logging]") {
  LogFile log;
  log.use(60'000, "json");
  spdlog::info("job 3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e: crawl started");
  crawld::access_logger().info("access 127.0.0.1 GET /jobs/3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e 200 573 0.059ms");
  crawld::flush_access_log();
  std::istringstream lines(log.text());
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(lines, line)) records.push_back(nlohmann::json::parse(line));
  REQUIRE(records.size() == 2);
  for (const auto& record : records) {
    CHECK(record["level"] == "info");
    CHECK(record["job_id"] == "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e");
    CHECK(record.contains("time"));
  }
  CHECK(records[1]["msg"] == "access 127.0.0.1 GET /jobs/3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e 200 573 0.059ms");
}

TEST_CASE("log_access writes the line access_logger().info would, in both formats", "[logging]") {
  // A target with what JSON must escape, and text outside ASCII.
  const std::string target = "/jobs/3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e?q=\"a\\b\"&name=caf\xc3\xa9";
  for (const std::string format : {"text", "json"}) {
    CAPTURE(format);
    LogFile log;
    log.use(60'000, format);
    crawld::access_logger().info("access 10.1.2.3 GET {} 404 1234 0.059ms", target);
    crawld::log_access({"10.1.2.3", "GET", target, 404, 1234, 0.0000591});
    crawld::flush_access_log();
    std::istringstream lines(log.text());
    std::vector<std::string> written;
    for (std::string line; std::getline(lines, line);) written.push_back(line);
    REQUIRE(written.size() == 2);
    // The same bytes but for the time, which the two lines read apart.
    const std::regex stamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    CHECK(std::regex_search(written[1], stamp));
    CHECK(std::regex_replace(written[1], stamp, "T") == std::regex_replace(written[0], stamp, "T"));
    if (format == "json") {
      auto record = nlohmann::json::parse(written[1]);
      CHECK(record["job_id"] == "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e");
      CHECK(record["msg"] == "access 10.1.2.3 GET " + target + " 404 1234 0.059ms");
    }
  }
}

TEST_CASE("log_access writes the duration in milliseconds with three decimals", "[logging]") {
  LogFile log;
  log.use(60'000, "text");
  const double durations[] = {0, 0.0000591, 0.0015, 0.0999996, 1.2345678, 61, 3725.000249};
  for (double seconds : durations) crawld::log_access({"127.0.0.1", "GET", "/healthz", 200, 2, seconds});
  crawld::flush_access_log();
  std::istringstream lines(log.text());
  std::vector<std::string> written;
  for (std::string line; std::getline(lines, line);) written.push_back(line);
  REQUIRE(written.size() == std::size(durations));
  for (std::size_t i = 0; i < written.size(); ++i) {
    CAPTURE(durations[i]);
    CHECK(written[i].ends_with(" 200 2 " + fmt::format("{:.3f}", durations[i] * 1000) + "ms"));
  }
}

TEST_CASE("log_access writes nothing when the level is above info", "[logging]") {
  LogFile log;
  crawld::LogConfig config;
  config.file = log.path.string();
  config.level = "warn";
  crawld::setup_logging(config);
  crawld::log_access({"127.0.0.1", "GET", "/healthz", 200, 2, 0.00001});
  crawld::flush_access_log();
  CHECK(count_of(log.text(), "/healthz") == 0);
}

TEST_CASE("the access log loses no line when lines come faster than one buffer a period", "[logging]") {
  // Far more than the backlog the sink's thread may fall behind by (16
  // buffers of 64 KiB): past it the caller writes itself. Every line
  // arrives whole and in order.
  LogFile log;
  log.use(60'000);
  constexpr int lines = 40'000;
  for (int i = 0; i < lines; ++i) {
    crawld::log_access({"127.0.0.1", "GET", "/jobs?n=" + std::to_string(i), 200, 900, 0.0001});
  }
  crawld::flush_access_log();
  std::istringstream text(log.text());
  int expected = 0;
  bool in_order = true;
  for (std::string line; std::getline(text, line);) {
    auto at = line.find("/jobs?n=");
    if (at == std::string::npos) continue;
    in_order = in_order && std::stoi(line.substr(at + 8)) == expected;
    ++expected;
  }
  CHECK(in_order);
  CHECK(expected == lines);
}

TEST_CASE("a failing access log write loses its lines, not the process", "[logging]") {
  // /dev/full: every write fails with ENOSPC, as on a full disk.
  REQUIRE(std::filesystem::exists("/dev/full"));
  for (std::uint32_t flush_ms : {0U, 20U}) {
    CAPTURE(flush_ms);
    crawld::LogConfig config;
    config.file = "/dev/full";
    config.flush_ms = flush_ms;
    crawld::setup_logging(config);
    for (int i = 0; i < 3000; ++i) crawld::log_access({"127.0.0.1", "GET", "/healthz", 200, 2, 0.00001});
    std::this_thread::sleep_for(std::chrono::milliseconds(flush_ms * 3));  // the thread's writes fail too
    crawld::flush_access_log();
  }
  crawld::setup_logging(crawld::LogConfig{});
  // Still logging, to a file that can be written.
  LogFile log;
  log.use(0);
  crawld::log_access({"127.0.0.1", "GET", "/after", 200, 2, 0.00001});
  CHECK(count_of(log.text(), "/after") == 1);
}
