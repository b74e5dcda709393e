#include "crawld/jobs/job.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <system_error>
#include <type_traits>

namespace crawld::jobs {

namespace {

// The job's JSON is written directly, not built as a nlohmann::json tree:
// POST /start renders one per request. The text is exactly what
// nlohmann::json's compact dump (error_handler_t::replace) makes of the same
// document: keys in sorted order, the same escapes.
void append_string(std::string& out, std::string_view text) {
  if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; })) {
    // Multi-byte and invalid UTF-8 (replaced by U+FFFD) take nlohmann's path.
    out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the characters not yet written
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out.append(text, plain);
  out += '"';
}

void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

template <typename Integer>
void append_member(std::string& out, std::string_view key, Integer value) {
  append_key(out, key);
  if constexpr (std::is_same_v<Integer, bool>) {
    out += value ? "true" : "false";
  } else {
    out += std::to_string(value);
  }
  out += ',';
}

void append_string_member(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_string(out, value);
  out += ',';
}

void append_null_member(std::string& out, std::string_view key) {
  append_key(out, key);
  out += "null,";
}

void append_time_member(std::string& out, std::string_view key, const std::optional<Clock::time_point>& when) {
  if (!when) return append_null_member(out, key);
  append_string_member(out, key, format_time(*when));
}

// Replaces the trailing comma of an object's last member with its brace.
void close_object(std::string& out) { out.back() = '}'; }

void append_params(std::string& out, const JobParams& params) {
  out += '{';
  append_member(out, "deep", params.deep);
  append_member(out, "log_to_db", params.log_to_db);
  append_member(out, "season", params.season);
  append_string_member(out, "target", params.target);
  append_member(out, "timeout", params.timeout_s);
  close_object(out);
}

}  // namespace

std::string JobParams::to_json_text() const {
  std::string out;
  append_params(out, *this);
  return out;
}

nlohmann::json JobParams::to_json() const { return nlohmann::json::parse(to_json_text()); }

std::string_view to_string(JobState state) {
  switch (state) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::succeeded: return "succeeded";
    case JobState::failed: return "failed";
    case JobState::cancelled: return "cancelled";
    case JobState::timed_out: return "timed_out";
    case JobState::interrupted: return "interrupted";
  }
  return "unknown";
}

std::optional<JobState> parse_job_state(std::string_view text) {
  for (auto state : all_job_states) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

bool is_terminal(JobState state) { return state != JobState::queued && state != JobState::running; }

bool is_allowed_transition(JobState from, JobState to) {
  switch (from) {
    case JobState::queued:
      return to == JobState::running || to == JobState::cancelled || to == JobState::interrupted;
    case JobState::running:
      return is_terminal(to);
    default:
      return false;  // terminal states are final
  }
}

std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::none: return "none";
    case StopReason::user_request: return "user_request";
    case StopReason::deadline: return "deadline";
    case StopReason::shutdown: return "shutdown";
  }
  return "none";
}

std::string format_time(Clock::time_point when) {
  // Calendar arithmetic only: no gmtime_r (it takes the time zone lock) and
  // no printf on the path of every job rendered.
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(when);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss time{ms - day};
  const int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) return "0000-01-01T00:00:00.000Z";  // outside RFC 3339's four digits
  std::string text = "0000-00-00T00:00:00.000Z";
  auto put = [&text](std::size_t at, std::size_t width, long long value) {
    for (std::size_t i = 0; i < width; ++i, value /= 10) text[at + width - 1 - i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, year);
  put(5, 2, static_cast<unsigned>(date.month()));
  put(8, 2, static_cast<unsigned>(date.day()));
  put(11, 2, time.hours().count());
  put(14, 2, time.minutes().count());
  put(17, 2, time.seconds().count());
  put(20, 3, time.subseconds().count());
  return text;
}

std::optional<Clock::time_point> parse_time(std::string_view text) {
  std::tm tm{};
  int millis = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t seconds = timegm(&tm);
  return Clock::time_point(std::chrono::seconds(seconds)) + std::chrono::milliseconds(millis);
}

std::string new_job_id() {
  // Random version-4 UUIDs from the kernel's generator, read 4 KiB at a time:
  // one getrandom call per 256 jobs instead of one per job.
  struct Pool {
    std::array<unsigned char, 4096> bytes;
    std::size_t used = 4096;
  };
  static thread_local Pool pool;
  if (pool.used == pool.bytes.size()) {
    std::size_t filled = 0;
    while (filled < pool.bytes.size()) {
      ssize_t n = getrandom(pool.bytes.data() + filled, pool.bytes.size() - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "getrandom");
      }
      filled += static_cast<std::size_t>(n);
    }
    pool.used = 0;
  }
  unsigned char* u = pool.bytes.data() + pool.used;
  pool.used += 16;
  u[6] = static_cast<unsigned char>((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = static_cast<unsigned char>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(36, '-');
  std::size_t pos = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
    id[pos++] = hex[u[i] >> 4];
    id[pos++] = hex[u[i] & 0x0f];
  }
  return id;
}

bool is_valid_job_id(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      return false;
    }
  }
  return true;
}

std::string Job::to_json_text() const {
  std::string out;
  out.reserve(512);
  out += '{';
  append_string_member(out, "created_at", format_time(created_at));
  append_member(out, "deep", params.deep);
  if (error.empty()) {
    append_null_member(out, "error");
  } else {
    append_string_member(out, "error", error);
  }
  append_time_member(out, "finished_at", finished_at);
  append_string_member(out, "id", id);
  append_key(out, "links");
  out += '{';
  const std::string self = "/jobs/" + id;
  append_string_member(out, "events", self + "/events");
  append_string_member(out, "pages", self + "/pages");
  append_string_member(out, "self", self);
  close_object(out);
  out += ',';
  append_key(out, "params");
  append_params(out, params);
  out += ',';
  append_key(out, "progress");
  out += '{';
  append_member(out, "bytes", progress.bytes);
  append_member(out, "failed", progress.failed);
  append_member(out, "fetched", progress.fetched);
  append_member(out, "queued", progress.queued);
  append_member(out, "skipped", progress.skipped);
  close_object(out);
  out += ',';
  append_member(out, "season", params.season);
  append_time_member(out, "started_at", started_at);
  append_string_member(out, "state", to_string(state));
  if (stop_reason == StopReason::none) {
    append_null_member(out, "stop_reason");
  } else {
    append_string_member(out, "stop_reason", to_string(stop_reason));
  }
  append_string_member(out, "target", params.target);
  close_object(out);
  return out;
}

nlohmann::json Job::to_json() const { return nlohmann::json::parse(to_json_text()); }

}  // namespace crawld::jobs
