#include "rows.hpp"

#include "crawld/store/text.hpp"
#include "crawld/util/json_text.hpp"

namespace crawld::store {

namespace {

// One JSON object, written field by field into `out`.
class Object {
 public:
  explicit Object(std::string& out) : out_(out) { out_ += '{'; }
  ~Object() { out_ += '}'; }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  Object& text(std::string_view name, std::string_view value) {
    key(name);
    util::append_json_string(out_, sanitize_text(value));
    return *this;
  }
  // Empty text is NULL.
  Object& text_or_null(std::string_view name, std::string_view value) {
    if (value.empty()) return null(name);
    return text(name, value);
  }
  Object& number(std::string_view name, long long value) {
    key(name);
    out_ += std::to_string(value);
    return *this;
  }
  Object& boolean(std::string_view name, bool value) {
    key(name);
    out_ += value ? "true" : "false";
    return *this;
  }
  Object& time(std::string_view name, jobs::Clock::time_point when) { return text(name, jobs::format_time(when)); }
  Object& time_or_null(std::string_view name, const std::optional<jobs::Clock::time_point>& when) {
    return when ? time(name, *when) : null(name);
  }
  Object& raw(std::string_view name, std::string_view json) {
    key(name);
    out_ += json;
    return *this;
  }
  Object& null(std::string_view name) {
    key(name);
    out_ += "null";
    return *this;
  }

 private:
  void key(std::string_view name) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += name;
    out_ += "\":";
  }
  std::string& out_;
  bool first_ = true;
};

void append_progress(Object& object, const crawl::CrawlProgress& p) {
  for (const auto& field : crawl::progress_fields) object.number(field.name, static_cast<long long>(p.*field.member));
}

void append_job(std::string& out, const jobs::Job& job) {
  Object row(out);
  row.text("id", job.id)
      .text("target", job.params.target)
      .number("season", job.params.season)
      .boolean("deep", job.params.deep)
      .raw("params", params_json(job.params))
      .text("state", jobs::to_string(job.state))
      .text_or_null("stop_reason",
                    job.stop_reason == jobs::StopReason::none ? std::string_view() : jobs::to_string(job.stop_reason))
      .text_or_null("error", job.error)
      .time("created_at", job.created_at)
      .time_or_null("started_at", job.started_at)
      .time_or_null("finished_at", job.finished_at)
      .text("instance_id", job.instance_id)
      .number("attempt", job.attempt)
      .text_or_null("idempotency_key", job.idempotency_key);
  append_progress(row, job.progress);
}

void append_event(std::string& out, const EventRow& event) {
  Object row(out);
  row.text("job_id", event.job_id).time("at", event.at).text("level", event.level).text("message", event.message);
}

void append_page(std::string& out, const PageRow& row) {
  const auto& page = row.page;
  Object object(out);
  object.text("job_id", row.job_id)
      .text("url", page.url)
      .text_or_null("final_url", page.final_url)
      .number("depth", page.depth)
      .number("status", page.status)
      .text_or_null("content_type", page.content_type)
      .number("bytes", static_cast<long long>(page.bytes))
      .boolean("truncated", page.truncated)
      .text_or_null("title", page.title)
      .text_or_null("sha256", page.sha256)
      .number("elapsed_ms", page.elapsed_ms)
      .text_or_null("error", page.error)
      .time("fetched_at", row.fetched_at)
      .number("attempt", row.attempt)
      .text_or_null("canonical", page.canonical)
      .number("wire_bytes", static_cast<long long>(page.wire_bytes));
}

void append_delivery(std::string& out, const webhooks::Delivery& delivery) {
  Object row(out);
  row.text("id", delivery.id)
      .text("job_id", delivery.job_id)
      .text("event", delivery.event)
      .text("url", delivery.url)
      .text("payload", delivery.payload)
      .time("created_at", delivery.created_at);
}

template <class Row, class Append>
std::string array(const Row* first, const Row* last, Append append) {
  std::string out = "[";
  out.reserve(static_cast<std::size_t>(last - first) * 256 + 2);
  for (const Row* row = first; row != last; ++row) {
    if (row != first) out += ',';
    append(out, *row);
  }
  out += ']';
  return out;
}

}  // namespace

std::string params_json(const jobs::JobParams& params) {
  std::string out;
  {
    Object object(out);  // closed at the end of this block, before `out` is returned
    object.boolean("deep", params.deep)
        .boolean("log_to_db", params.log_to_db)
        .number("season", params.season)
        .text("target", params.target)
        .number("timeout", params.timeout_s);
  }
  return out;
}

std::string progress_json(const crawl::CrawlProgress& progress) {
  std::string out;
  {
    Object object(out);  // closed at the end of this block, before `out` is returned
    append_progress(object, progress);
  }
  return out;
}

std::string jobs_json(const jobs::Job* first, const jobs::Job* last) { return array(first, last, append_job); }
std::string events_json(const EventRow* first, const EventRow* last) { return array(first, last, append_event); }
std::string pages_json(const PageRow* first, const PageRow* last) { return array(first, last, append_page); }
std::string deliveries_json(const webhooks::Delivery* first, const webhooks::Delivery* last) {
  return array(first, last, append_delivery);
}

}  // namespace crawld::store
