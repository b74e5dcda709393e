// Live job streams (Server-Sent Events, http/stream.hpp):
//
//  - GET /jobs/{id}/events with Accept: text/event-stream, or ?follow=true:
//    the job's state first, then its event rows as they are written (`id:`
//    is the row's id, so a client that reconnects with Last-Event-ID resumes
//    without gaps or repeats), its progress at most once a second, and a
//    final `state` when it ends, after its last event row; then the stream
//    ends. Without a database the events are sent as they happen, without
//    ids (nothing to resume from).
//  - GET /events: every job's state changes, for dashboards.
//
// As a JobObserver it wakes a job's streams when the job changes here, and
// the store's on_events_written wakes them when its rows are committed. A
// job run elsewhere (cluster mode) is polled every cluster.poll_ms. Every
// stream sends a comment after server.stream_heartbeat_ms without text.
#pragma once

#include "crawld/api/routes.hpp"
#include "crawld/http/message.hpp"
#include "crawld/jobs/job_observer.hpp"

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace crawld::api {

class EventStreams final : public jobs::JobObserver {
 public:
  explicit EventStreams(ApiContext& context) : context_(context) {}
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // The stream of one job, which exists: `job` as found, `after` the last
  // event id the client has (0: from the start).
  http::Response follow_job(jobs::Job job, std::int64_t after);
  // Every job's state changes from now on.
  http::Response follow_all();

  // The store committed events of this job.
  void events_written(const std::string& job_id);

  // JobObserver (on the loop).
  void job_created(const jobs::Job& job) override;
  void job_changed(const jobs::Job& job) override;
  void job_progress(const jobs::Job& job) override;
  void job_event(const jobs::Job& job, std::string_view level, const std::string& message) override;

  std::size_t followers() const { return followers_.size(); }

 private:
  struct Follower {
    http::Stream* stream;
    bool events_written = false;  // rows were committed since the last read
  };
  boost::asio::awaitable<void> run_job(http::Stream& stream, jobs::Job job, std::int64_t after);
  boost::asio::awaitable<void> run_all(http::Stream& stream);
  void wake(const std::string& job_id);
  void publish_state(const jobs::Job& job);

  ApiContext& context_;
  std::unordered_multimap<std::string, Follower*> followers_;  // by job id
  std::list<http::Stream*> watchers_;                           // GET /events
};

// GET /events (GET /jobs/{id}/events's stream is negotiated there).
void register_stream_routes(http::Router& router, ApiContext& context);

}  // namespace crawld::api
