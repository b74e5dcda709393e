#include "crawld/logging.hpp"

#include "crawld/util/json_text.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace crawld {
namespace {

// %j in a pattern: the message as a JSON string body (without quotes).
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string escaped;
    util::append_json_escaped(escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

// %J in a pattern: `"job_id":"<uuid>",` for lines about a job. Every such
// line starts with "job <uuid>" (JobManager, store), so the id is lifted from
// there into its own field for log queries.
class JobIdFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    auto id = job_id_of(payload);
    if (id.empty()) return;
    constexpr std::string_view open = R"("job_id":")";
    constexpr std::string_view close = "\",";
    dest.append(open.data(), open.data() + open.size());
    dest.append(id.data(), id.data() + id.size());
    dest.append(close.data(), close.data() + close.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JobIdFlag>(); }
};

// The access log's sink: lines are formatted into a buffer and written in
// one go when it fills, when flushed (every log.flush_ms by the flusher
// thread, on SIGHUP and at a graceful stop) or when it is destroyed, so a
// request costs no write system call on the loop. flush_ms 0: every line is
// written at once.
class BufferedSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr std::size_t capacity = std::size_t{64} * 1024;

  BufferedSink(const std::string& file, bool write_through) : write_through_(write_through) {
    if (!file.empty()) file_.open(file);
  }
  ~BufferedSink() override {
    const std::lock_guard lock(mutex_);
    write_out();
  }
  BufferedSink(const BufferedSink&) = delete;
  BufferedSink& operator=(const BufferedSink&) = delete;

 protected:
  // Formatted straight into the buffer, which is written once it holds
  // `capacity` bytes or more.
  void sink_it_(const spdlog::details::log_msg& msg) override {
    formatter_->format(msg, buffer_);
    if (write_through_ || buffer_.size() >= capacity) write_out();
  }
  void flush_() override { write_out(); }

 private:
  void write_out() {
    if (buffer_.size() == 0) return;
    if (file_.filename().empty()) {
      std::fwrite(buffer_.data(), 1, buffer_.size(), stderr);
      std::fflush(stderr);
    } else {
      file_.write(buffer_);
      file_.flush();
    }
    buffer_.clear();
  }

  bool write_through_;
  spdlog::details::file_helper file_;
  spdlog::memory_buf_t buffer_;
};

// Flushes the access log every flush_ms until it is replaced or stopped.
class Flusher {
 public:
  Flusher(std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds every)
      : thread_([logger = std::move(logger), every](const std::stop_token& stop) {
          std::mutex mutex;
          std::condition_variable_any wake;
          std::unique_lock lock(mutex);
          while (!stop.stop_requested()) {
            wake.wait_for(lock, stop, every, [] { return false; });
            logger->flush();
          }
        }) {}

 private:
  std::jthread thread_;
};

LogConfig current;
std::shared_ptr<spdlog::logger> access;
std::unique_ptr<Flusher> flusher;

std::unique_ptr<spdlog::formatter> make_formatter(const std::string& format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == "json") {
    formatter->add_flag<JsonMessageFlag>('j').add_flag<JobIdFlag>('J').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%J"msg":"%j"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v");
  }
  return formatter;
}

std::shared_ptr<spdlog::logger> make_logger(std::string name, spdlog::sink_ptr sink, const LogConfig& config) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_formatter(make_formatter(config.format));
  logger->set_level(spdlog::level::from_str(config.level));
  return logger;
}

}  // namespace

namespace {

bool is_uuid(std::string_view id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

// The UUID at `pos` of `line` when it is followed by the end or a separator.
std::string_view uuid_at(std::string_view line, std::size_t pos) {
  if (line.size() < pos + 36) return {};
  auto id = line.substr(pos, 36);
  if (!is_uuid(id)) return {};
  if (line.size() > pos + 36) {
    char next = line[pos + 36];
    if (next != ':' && next != ' ' && next != '/' && next != '?') return {};
  }
  return id;
}

}  // namespace

std::string_view job_id_of(std::string_view line) {
  // "job <uuid>: ..." (job manager, store) or ".../jobs/<uuid>..." (access log).
  if (line.substr(0, 4) == "job ") return uuid_at(line, 4);
  auto path = line.find("/jobs/");
  if (path != std::string_view::npos) return uuid_at(line, path + 6);
  return {};
}

void setup_logging(const LogConfig& config) {
  current = config;
  spdlog::sink_ptr sink;
  if (config.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file);
    } catch (const spdlog::spdlog_ex& e) {
      throw ConfigError("log.file: cannot open \"" + config.file + "\": " + e.what());
    }
  }
  auto logger = make_logger("crawld", std::move(sink), config);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));

  // The old access log's lines are written (to the old file) before the new
  // one takes over.
  flusher.reset();
  access.reset();
  access = make_logger("access", std::make_shared<BufferedSink>(config.file, config.flush_ms == 0), config);
  access->flush_on(spdlog::level::off);
  if (config.flush_ms > 0) flusher = std::make_unique<Flusher>(access, std::chrono::milliseconds(config.flush_ms));
}

void reopen_log_file() {
  if (current.file.empty()) {
    flush_access_log();
    return;
  }
  setup_logging(current);
}

spdlog::logger& access_logger() {
  if (!access) setup_logging(current);
  return *access;
}

void flush_access_log() {
  if (access) access->flush();
}

}  // namespace crawld
