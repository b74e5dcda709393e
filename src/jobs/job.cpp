#include "crawld/jobs/job.hpp"

#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <cstdio>
#include <ctime>

namespace crawld::jobs {

nlohmann::json JobParams::to_json() const {
  return {{"target", target}, {"season", season}, {"deep", deep}, {"timeout", timeout_s}, {"log_to_db", log_to_db}};
}

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
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
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
  static thread_local boost::uuids::random_generator generator;
  return boost::uuids::to_string(generator());
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

nlohmann::json Job::to_json() const {
  auto optional_time = [](const std::optional<Clock::time_point>& t) -> nlohmann::json {
    return t ? nlohmann::json(format_time(*t)) : nlohmann::json(nullptr);
  };
  nlohmann::json body = {
      {"id", id},
      {"state", to_string(state)},
      {"params", params.to_json()},
      {"target", params.target},
      {"season", params.season},
      {"deep", params.deep},
      {"created_at", format_time(created_at)},
      {"started_at", optional_time(started_at)},
      {"finished_at", optional_time(finished_at)},
      {"progress",
       {{"queued", progress.queued}, {"fetched", progress.fetched}, {"failed", progress.failed},
        {"skipped", progress.skipped}, {"bytes", progress.bytes}}},
      {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)},
      {"stop_reason", stop_reason == StopReason::none ? nlohmann::json(nullptr) : nlohmann::json(to_string(stop_reason))},
      {"links", {{"self", "/jobs/" + id}, {"pages", "/jobs/" + id + "/pages"}, {"events", "/jobs/" + id + "/events"}}},
  };
  return body;
}

}  // namespace crawld::jobs
