#include "crawld/logging.hpp"

#include "crawld/util/json_text.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <iterator>
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

// An access line in the default logger's format (make_formatter), written
// without its pattern formatter: the date and time to the second are
// formatted once a second, the rest is appended straight into the line.
class AccessFormatter {
 public:
  explicit AccessFormatter(bool json) : json_(json) {}

  void format(const AccessEntry& entry, spdlog::memory_buf_t& buffer) {
    // Built in a string kept for it, then added to the buffer in one go.
    std::string& out = line_;
    out.clear();
    auto [seconds, millis] = wall_time(entry.finished);
    if (seconds != second_) {
      second_ = seconds;
      std::time_t t = seconds;
      std::tm tm{};
      gmtime_r(&t, &tm);
      prefix_length_ = std::strftime(prefix_, sizeof prefix_, "%Y-%m-%dT%H:%M:%S.", &tm);
    }
    const char stamp_tail[] = {static_cast<char>('0' + millis / 100), static_cast<char>('0' + millis / 10 % 10),
                               static_cast<char>('0' + millis % 10), 'Z'};
    if (json_) append(out, R"({"time":")");
    append(out, std::string_view(prefix_, prefix_length_));
    append(out, std::string_view(stamp_tail, sizeof stamp_tail));
    if (json_) {
      append(out, R"(","level":"info",)");
      if (auto id = job_id_of(entry.target); !id.empty()) {
        append(out, R"("job_id":")");
        append(out, id);
        append(out, "\",");
      }
      append(out, R"("msg":")");
    } else {
      append(out, " info  ");
    }
    append(out, "access ");
    append(out, entry.remote);
    append(out, " ");
    append(out, entry.method);
    append(out, " ");
    if (json_) {
      util::append_json_escaped(out, entry.target);
    } else {
      append(out, entry.target);
    }
    append(out, " ");
    append_number(out, entry.status);
    append(out, " ");
    append_number(out, entry.bytes);
    append(out, " ");
    // Milliseconds with three decimals (as "{:.3f}" writes them), from
    // whole microseconds: integer formatting, a fraction of a float's cost.
    auto micros = static_cast<std::int64_t>(std::llround(std::max(0.0, entry.seconds) * 1e6));
    append_number(out, micros / 1000);
    const char fraction[] = {'.', static_cast<char>('0' + micros / 100 % 10), static_cast<char>('0' + micros / 10 % 10),
                             static_cast<char>('0' + micros % 10)};
    append(out, std::string_view(fraction, sizeof fraction));
    append(out, json_ ? "ms\"}\n" : "ms\n");
    buffer.append(out.data(), out.data() + out.size());
  }

 private:
  static void append(std::string& out, std::string_view text) { out.append(text); }
  template <typename Number>
  static void append_number(std::string& out, Number n) {
    char digits[24];
    auto end = std::to_chars(std::begin(digits), std::end(digits), n).ptr;
    out.append(digits, end);
  }

  // The wall-clock second and millisecond of a steady time point. The
  // offset between the clocks is read again once a second.
  std::pair<std::int64_t, int> wall_time(std::chrono::steady_clock::time_point at) {
    using namespace std::chrono;
    if (at >= offset_read_ + 1s || at + 1s < offset_read_) {
      offset_read_ = steady_clock::now();
      offset_ = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()) -
                duration_cast<nanoseconds>(offset_read_.time_since_epoch());
    }
    auto wall = duration_cast<milliseconds>(duration_cast<nanoseconds>(at.time_since_epoch()) + offset_);
    auto seconds = duration_cast<std::chrono::seconds>(wall);
    return {seconds.count(), static_cast<int>((wall - seconds).count())};
  }

  bool json_;
  std::int64_t second_ = -1;
  char prefix_[40] = {};
  std::size_t prefix_length_ = 0;
  std::chrono::steady_clock::time_point offset_read_{};
  std::chrono::nanoseconds offset_{0};
  std::string line_;  // reused for every line: no allocation per line
};

// The access log's sink. Lines are formatted into a buffer; a thread of
// the sink's own writes it out every flush_ms, and at once when it fills
// (the full buffer is handed over and the next one fills meanwhile), so the
// loop makes no write system call and never waits for one. Only when the
// disk falls behind by `backlog_limit` bytes does a caller write itself.
// flush() writes everything now (SIGHUP, graceful stop, tests); flush_ms 0
// writes each line at once. Lock order: write_mutex_, then mutex_.
class BufferedSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr std::size_t capacity = std::size_t{64} * 1024;
  static constexpr std::size_t backlog_limit = 16 * capacity;

  BufferedSink(const std::string& file, std::chrono::milliseconds flush_every, bool json)
      : write_through_(flush_every.count() == 0), access_(json) {
    if (!file.empty()) file_.open(file);
    if (!write_through_) {
      thread_ = std::jthread([this, flush_every](const std::stop_token& stop) { run(stop, flush_every); });
    }
  }
  ~BufferedSink() override {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    flush_now();
  }
  BufferedSink(const BufferedSink&) = delete;
  BufferedSink& operator=(const BufferedSink&) = delete;

  // An access line, formatted by AccessFormatter straight into the buffer.
  void access(const AccessEntry& entry) {
    std::unique_lock lock(mutex_);
    access_.format(entry, buffer_);
    filled(lock);
  }

  // Writes every buffered line, in order.
  void flush_now() {
    const std::lock_guard writing(write_mutex_);
    std::unique_lock lock(mutex_);
    out_.clear();
    out_.append(full_.data(), full_.data() + full_.size());
    out_.append(buffer_.data(), buffer_.data() + buffer_.size());
    full_.clear();
    buffer_.clear();
    lock.unlock();
    write_out(out_);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    formatter_->format(msg, buffer_);
    std::unique_lock lock(mutex_, std::adopt_lock);  // base_sink holds it and unlocks it
    filled(lock);
    lock.release();
  }
  // spdlog's logger::flush (the base class holds mutex_): the thread
  // writes; flush_access_log() calls flush_now().
  void flush_() override {
    flush_requested_ = true;
    wake_.notify_one();
  }

 private:
  // After a line: written at once (flush_ms 0), handed to the thread (the
  // buffer is full), or written by the caller (the thread is that far
  // behind). `lock` holds mutex_ and holds it again on return.
  void filled(std::unique_lock<std::mutex>& lock) {
    if (!write_through_ && buffer_.size() < capacity) return;
    if (!write_through_ && full_.size() == 0) {
      std::swap(full_, buffer_);
      wake_.notify_one();
      return;
    }
    if (!write_through_ && buffer_.size() < backlog_limit) return;
    lock.unlock();
    flush_now();
    lock.lock();
  }

  // Every flush_ms, and at once when a buffer is full. The wait is on
  // mutex_, under which a full buffer is handed over: no wake-up is missed.
  void run(const std::stop_token& stop, std::chrono::milliseconds every) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
      wake_.wait_for(lock, stop, every, [this] { return full_.size() > 0 || flush_requested_; });
      flush_requested_ = false;
      lock.unlock();
      flush_now();
      lock.lock();
    }
  }

  // A failed write (disk full, I/O error) loses those lines but never the
  // process: it is reported on standard error, once until writes succeed
  // again.
  void write_out(const spdlog::memory_buf_t& data) noexcept {
    if (data.size() == 0) return;
    try {
      if (file_.filename().empty()) {
        std::fwrite(data.data(), 1, data.size(), stderr);
        std::fflush(stderr);
      } else {
        file_.write(data);
        file_.flush();
      }
      if (failing_) std::fprintf(stderr, "crawld: the access log is written again\n");
      failing_ = false;
    } catch (const std::exception& e) {
      if (!failing_) std::fprintf(stderr, "crawld: access log lines lost: %s\n", e.what());
      failing_ = true;
    }
  }

  bool write_through_;
  AccessFormatter access_;
  std::mutex write_mutex_;           // the file, and out_
  spdlog::details::file_helper file_;
  spdlog::memory_buf_t buffer_;      // the lines being added (mutex_)
  spdlog::memory_buf_t full_;        // a full buffer handed to the thread (mutex_)
  spdlog::memory_buf_t out_;         // what is being written (write_mutex_)
  std::condition_variable_any wake_;
  bool flush_requested_ = false;  // spdlog's flush() asked the thread (mutex_)
  bool failing_ = false;          // the last write failed (write_mutex_)
  std::jthread thread_;
};

LogConfig current;
std::shared_ptr<spdlog::logger> access;
std::shared_ptr<BufferedSink> access_sink;

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
  access.reset();
  access_sink.reset();
  access_sink = std::make_shared<BufferedSink>(config.file, std::chrono::milliseconds(config.flush_ms),
                                               config.format == "json");
  access = make_logger("access", access_sink, config);
  access->flush_on(spdlog::level::off);
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

void log_access(const AccessEntry& entry) {
  if (!access) setup_logging(current);
  if (access->should_log(spdlog::level::info)) access_sink->access(entry);
}

void flush_access_log() {
  if (access_sink) access_sink->flush_now();
}

}  // namespace crawld
