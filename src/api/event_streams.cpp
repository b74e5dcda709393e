#include "crawld/api/event_streams.hpp"

#include "crawld/api/database_routes.hpp"

#include "crawld/api/job_json.hpp"
#include "crawld/api/openapi.hpp"
#include "crawld/jobs/job_service.hpp"
#include "crawld/store/store.hpp"
#include "crawld/util/unavailable.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace crawld::api {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

namespace {

// One event: `data` is a line of JSON (it holds no newline: JSON escapes them).
std::string sse(std::string_view event, std::string_view data, std::int64_t id = 0) {
  std::string out;
  out.reserve(data.size() + 40);
  if (id > 0) out.append("id: ").append(std::to_string(id)).append("\n");
  out.append("event: ").append(event).append("\ndata: ").append(data).append("\n\n");
  return out;
}

http::Response stream_response(http::StreamProducer producer) {
  http::Response response;
  response.content_type = "text/event-stream";
  response.stream = std::move(producer);
  return response;
}

// How long a browser's EventSource waits before it reconnects.
constexpr std::string_view retry_line = "retry: 1000\n\n";
constexpr auto progress_every = std::chrono::seconds(1);
// Rows read per query while catching up.
constexpr std::size_t read_batch = 1000;

}  // namespace

http::Response EventStreams::follow_job(jobs::Job job, std::int64_t after) {
  return stream_response([this, job = std::move(job), after](http::Stream& stream) {
    return run_job(stream, job, after);
  });
}

http::Response EventStreams::follow_all() {
  return stream_response([this](http::Stream& stream) { return run_all(stream); });
}

asio::awaitable<void> EventStreams::run_job(http::Stream& stream, jobs::Job job, std::int64_t after) {
  const std::string id = job.id;
  Follower follower{&stream};
  struct Listed {
    std::unordered_multimap<std::string, Follower*>& followers;
    std::unordered_multimap<std::string, Follower*>::iterator self;
    ~Listed() { followers.erase(self); }
  } listed{followers_, followers_.emplace(id, &follower)};

  const auto& config = *context_.config;
  store::Store* store = context_.store;
  const auto heartbeat = std::chrono::milliseconds(config.server.stream_heartbeat_ms);
  // A job run here wakes its streams; one run elsewhere is looked at this often.
  const auto poll = std::chrono::milliseconds(config.cluster.enabled ? config.cluster.poll_ms : 1000);

  stream.send(retry_line);
  std::string sent;  // the job as last sent, and its state
  std::optional<jobs::JobState> sent_state;
  auto sent_at = Steady::now();
  if (!jobs::is_terminal(job.state)) {
    sent = job_json(job);
    sent_state = job.state;
    stream.send(sse("state", sent));
  }
  bool read_rows = store != nullptr;  // rows may wait: read before anything else
  bool final_read = false;            // the job ended and its rows were all committed: one last read
  bool progress_waits = false;        // progress not sent yet (at most one a second)
  auto unavailable = [&stream](const std::exception& error) {
    stream.send(std::string(": the database cannot answer now, retrying: ") + error.what() + "\n\n");
  };
  while (!stream.closed()) {
    auto now = context_.jobs->find_local(id);
    bool local = now.has_value();
    if (store != nullptr && (read_rows || follower.events_written || !local)) {
      follower.events_written = false;
      read_rows = false;
      try {
        for (;;) {
          auto rows = co_await store->repository().events(id, after, read_batch);
          for (const auto& row : rows) {
            stream.send(sse("log", event_json(row).dump(), row.id));
            after = row.id;
          }
          if (rows.size() < read_batch || stream.closed()) break;
        }
      } catch (const util::Unavailable& error) {
        read_rows = true;
        unavailable(error);
      }
      if (stream.closed()) break;
    }
    bool answered = true;
    if (!local) {
      try {
        now = co_await context_.jobs->find(id);
      } catch (const util::Unavailable& error) {
        answered = false;
        unavailable(error);
      }
      if (answered && !now) co_return;  // forgotten (the history was pruned)
    }
    if (now && jobs::is_terminal(now->state)) {
      // The final state goes after the job's last row. Once none of its
      // rows wait here (a job run elsewhere has its rows committed before
      // its end), one more read, then the state, and the stream ends.
      bool rows_wait = store != nullptr && (store->pending_events(id) > 0 || read_rows);
      if (!rows_wait && store != nullptr && !final_read) {
        final_read = read_rows = true;
        continue;
      }
      if (!rows_wait) {
        stream.send(sse("state", job_json(*now)));
        co_return;
      }
    } else if (now) {
      std::string text = job_json(*now);
      auto at = Steady::now();
      bool state_changed = sent_state != now->state;
      progress_waits = !state_changed && text != sent;
      if (state_changed || (progress_waits && at - sent_at >= progress_every)) {
        stream.send(sse(state_changed ? "state" : "progress", text));
        sent = std::move(text);
        sent_state = now->state;
        sent_at = at;
        progress_waits = false;
      }
    }
    auto at = Steady::now();
    if (at - stream.last_sent() >= heartbeat) stream.send(": heartbeat\n\n");
    auto deadline = std::min(at + poll, stream.last_sent() + heartbeat);
    // Progress held back by the once-a-second limit goes when it is due.
    if (progress_waits) deadline = std::min(deadline, sent_at + progress_every);
    co_await stream.wait_until(deadline);
  }
}

asio::awaitable<void> EventStreams::run_all(http::Stream& stream) {
  struct Listed {
    std::list<http::Stream*>& watchers;
    std::list<http::Stream*>::iterator self;
    ~Listed() { watchers.erase(self); }
  } listed{watchers_, watchers_.insert(watchers_.end(), &stream)};
  const auto heartbeat = std::chrono::milliseconds(context_.config->server.stream_heartbeat_ms);
  stream.send(retry_line);
  while (!stream.closed()) {
    auto at = Steady::now();
    if (at - stream.last_sent() >= heartbeat) stream.send(": heartbeat\n\n");
    co_await stream.wait_until(stream.last_sent() + heartbeat);
  }
}

void EventStreams::wake(const std::string& job_id) {
  auto [first, last] = followers_.equal_range(job_id);
  for (auto it = first; it != last; ++it) it->second->stream->wake();
}

void EventStreams::events_written(const std::string& job_id) {
  auto [first, last] = followers_.equal_range(job_id);
  for (auto it = first; it != last; ++it) {
    it->second->events_written = true;
    it->second->stream->wake();
  }
}

void EventStreams::publish_state(const jobs::Job& job) {
  if (watchers_.empty()) return;
  std::string text = sse("state", job_json(job));
  // send() may drop a slow reader, which then leaves the list: step first.
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    auto* stream = *it++;
    stream->send(text);
  }
}

void EventStreams::job_created(const jobs::Job& job) {
  publish_state(job);
  wake(job.id);
}

void EventStreams::job_changed(const jobs::Job& job) {
  publish_state(job);
  wake(job.id);
}

void EventStreams::job_progress(const jobs::Job& job) { wake(job.id); }

void EventStreams::job_event(const jobs::Job& job, std::string_view level, const std::string& message) {
  if (context_.store != nullptr) return;  // the rows are read once committed
  // Without a database: sent as it happens, without an id.
  auto [first, last] = followers_.equal_range(job.id);
  if (first == last) return;
  std::string text = sse("log", nlohmann::json{{"at", jobs::format_time(jobs::Clock::now())},
                                               {"level", level},
                                               {"message", message}}
                                    .dump());
  for (auto it = first; it != last; ++it) it->second->stream->send(text);
}

void register_stream_routes(http::Router& router, ApiContext& context) {
  router.add(
      "GET", "/events",
      [ctx = &context](http::Request&) -> asio::awaitable<http::Response> { co_return ctx->streams->follow_all(); },
      Operation("followJobs", "Every job's state changes, live (Server-Sent Events)")
          .describe("A text/event-stream: an `event: state` whose data is the job (the Job schema) for every job "
                    "created or changed on this instance from now on, and a comment line after "
                    "server.stream_heartbeat_ms without one. Ends when the server stops.")
          .reply_text(200, "the stream", "text/event-stream")
          .problem(503, "server.max_streams streams are open, or the server is stopping")
          .reply_header(503, "Retry-After", "seconds to wait before trying again"));
}

}  // namespace crawld::api
