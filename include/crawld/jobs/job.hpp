// The job model: what was asked for, where it stands, what it has done.
// Plain data; the API renders it (api/job_json), the store records it.
#pragma once

#include "crawld/crawl/page_result.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crawld::jobs {

// What POST /start asked for, after validation and defaults.
struct JobParams {
  std::string target;
  std::int64_t season = 0;
  bool deep = false;
  std::uint32_t timeout_s = 0;
  bool log_to_db = true;
  bool operator==(const JobParams&) const = default;
};

// queued -> running -> succeeded | failed | cancelled | timed_out | interrupted
// (queued may also go straight to cancelled or interrupted).
enum class JobState { queued, running, succeeded, failed, cancelled, timed_out, interrupted };

std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);
bool is_terminal(JobState state);
bool is_allowed_transition(JobState from, JobState to);
inline constexpr JobState all_job_states[] = {JobState::queued,    JobState::running,   JobState::succeeded,
                                              JobState::failed,    JobState::cancelled, JobState::timed_out,
                                              JobState::interrupted};

// Why a job was stopped before it finished on its own.
enum class StopReason { none, user_request, deadline, shutdown };
std::string_view to_string(StopReason reason);

using Clock = std::chrono::system_clock;

struct Job {
  std::string id;  // UUID made by the service
  JobParams params;
  JobState state = JobState::queued;
  StopReason stop_reason = StopReason::none;
  std::string error;
  Clock::time_point created_at{};
  std::optional<Clock::time_point> started_at;
  std::optional<Clock::time_point> finished_at;
  crawl::CrawlProgress progress;
  std::string idempotency_key;
  // The instance running (or that last ran) the job; in cluster mode empty
  // while the job is queued.
  std::string instance_id;
  // Which run this is: 1 for the first; cluster mode counts rescues (0 while
  // a job has not been claimed yet).
  std::uint32_t attempt = 0;
  // The crawl's events kept and dropped past jobs.max_events_per_job (this
  // instance's run of the job; not stored).
  std::uint32_t crawl_events = 0;
  std::uint64_t crawl_events_dropped = 0;
};

// RFC 3339 UTC with milliseconds: "2026-11-24T13:07:57.123Z".
std::string format_time(Clock::time_point when);
// The same appended to `out` (no string of its own).
void append_time(std::string& out, Clock::time_point when);

// A fresh random (version 4) UUID, and a check of the textual form.
std::string new_job_id();
bool is_valid_job_id(std::string_view text);

}  // namespace crawld::jobs
