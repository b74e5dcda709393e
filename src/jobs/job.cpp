#include "crawld/jobs/job.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

namespace crawld::jobs {

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

void append_time(std::string& out, Clock::time_point when) {
  // Calendar arithmetic only: no gmtime_r (it takes the time zone lock) and
  // no printf on the path of every job rendered.
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(when);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss time{ms - day};
  const int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) {
    out += "0000-01-01T00:00:00.000Z";  // outside RFC 3339's four digits
    return;
  }
  const std::size_t start = out.size();
  out += "0000-00-00T00:00:00.000Z";
  char* text = out.data() + start;
  auto put = [text](std::size_t at, std::size_t width, long long value) {
    for (std::size_t i = 0; i < width; ++i, value /= 10) text[at + width - 1 - i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, year);
  put(5, 2, static_cast<unsigned>(date.month()));
  put(8, 2, static_cast<unsigned>(date.day()));
  put(11, 2, time.hours().count());
  put(14, 2, time.minutes().count());
  put(17, 2, time.seconds().count());
  put(20, 3, time.subseconds().count());
}

std::string format_time(Clock::time_point when) {
  std::string text;
  append_time(text, when);
  return text;
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

}  // namespace crawld::jobs
