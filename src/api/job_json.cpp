#include "crawld/api/job_json.hpp"

#include "crawld/util/json_text.hpp"

#include <type_traits>

namespace crawld::api {

namespace {

using util::append_json_string;
using util::append_key;
using util::append_member;
using util::append_string_member;
using util::append_text_or_null;
using util::close_object;

void append_time_member(std::string& out, std::string_view key, const std::optional<jobs::Clock::time_point>& when) {
  append_key(out, key);
  if (!when) {
    out += "null,";
    return;
  }
  out += '"';
  jobs::append_time(out, *when);
  out += "\",";
}

// A job id is a UUID (ours) or text a database row held: escaped either way.
void append_link(std::string& out, std::string_view key, std::string_view id, std::string_view tail) {
  append_key(out, key);
  out += "\"/jobs/";
  util::append_json_escaped(out, id);
  out += tail;
  out += "\",";
}

void append_links(std::string& out, const std::string& id) {
  out += '{';
  append_link(out, "events", id, "/events");
  append_link(out, "pages", id, "/pages");
  append_link(out, "self", id, "");
  close_object(out);
}

void append_progress(std::string& out, const crawl::CrawlProgress& p) {
  // Keys in sorted order, as everywhere in the job's JSON.
  out += '{';
  for (const auto& field : crawl::progress_fields) append_member(out, field.name, p.*field.member);
  close_object(out);
}

}  // namespace

void append_params_json(std::string& out, const jobs::JobParams& params) {
  out += '{';
  append_member(out, "deep", params.deep);
  append_member(out, "log_to_db", params.log_to_db);
  append_member(out, "season", params.season);
  append_string_member(out, "target", params.target);
  append_member(out, "timeout", params.timeout_s);
  close_object(out);
}

void append_job_json(std::string& out, const jobs::Job& job) {
  out += '{';
  append_member(out, "attempt", job.attempt);
  append_time_member(out, "created_at", job.created_at);
  append_member(out, "deep", job.params.deep);
  append_text_or_null(out, "error", job.error);
  append_time_member(out, "finished_at", job.finished_at);
  if (job.state == jobs::JobState::running) {
    // What the crawl holds now: seen set, queued entries in memory, spilled.
    const auto& f = job.progress.frontier;
    append_key(out, "frontier");
    out += '{';
    append_member(out, "memory_bytes", f.memory_bytes);
    append_member(out, "seen", f.seen);
    append_member(out, "seen_bytes", f.seen_bytes);
    append_member(out, "spill_bytes", f.spill_bytes);
    append_member(out, "spilled", f.spilled);
    append_member(out, "spilled_total", f.spilled_total);
    close_object(out);
    out += ',';
  }
  append_string_member(out, "id", job.id);
  // The owner of the current or last attempt; nobody's while queued.
  append_text_or_null(out, "instance_id", job.state == jobs::JobState::queued ? std::string_view() : job.instance_id);
  append_key(out, "links");
  append_links(out, job.id);
  out += ',';
  append_key(out, "params");
  append_params_json(out, job.params);
  out += ',';
  append_key(out, "progress");
  append_progress(out, job.progress);
  out += ',';
  append_member(out, "season", job.params.season);
  append_time_member(out, "started_at", job.started_at);
  append_string_member(out, "state", jobs::to_string(job.state));
  append_text_or_null(
      out, "stop_reason",
      job.stop_reason == jobs::StopReason::none ? std::string_view() : jobs::to_string(job.stop_reason));
  append_string_member(out, "target", job.params.target);
  close_object(out);
}

std::string params_json(const jobs::JobParams& params) {
  std::string out;
  append_params_json(out, params);
  return out;
}

std::string job_json(const jobs::Job& job) {
  std::string out;
  out.reserve(512);
  append_job_json(out, job);
  return out;
}

std::string job_list_json(const std::vector<jobs::Job>& jobs) {
  std::string out = "[";
  out.reserve(2 + jobs.size() * 512);
  for (const auto& job : jobs) {
    if (out.size() > 1) out += ',';
    append_job_json(out, job);
  }
  out += ']';
  return out;
}

}  // namespace crawld::api
