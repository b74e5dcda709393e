#include "crawld/logging.hpp"

#include "crawld/util/json_text.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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

LogConfig current;

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
  auto logger = std::make_shared<spdlog::logger>("crawld", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (config.format == "json") {
    formatter->add_flag<JsonMessageFlag>('j').add_flag<JobIdFlag>('J').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%J"msg":"%j"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

void reopen_log_file() {
  if (current.file.empty()) return;
  setup_logging(current);
}

}  // namespace crawld
