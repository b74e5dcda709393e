// Log set-up: human-readable text or one JSON object per line (spdlog).
#pragma once

#include "crawld/config.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace crawld {

// Installs the default logger. Throws ConfigError for an unwritable file.
void setup_logging(const LogConfig& config);

// Reopens the log file (after rotation; SIGHUP); the access log's buffered
// lines are written first (to stderr, when logging there).
void reopen_log_file();

// The access log: the same destination and format as the default logger,
// but lines are buffered (64 KiB) and written when the buffer fills, every
// log.flush_ms (by a thread of its own, not the loop), on SIGHUP and on
// flush_access_log(); log.flush_ms 0 writes each line at once.
spdlog::logger& access_logger();

// One request, for the access log.
struct AccessEntry {
  std::string_view remote;
  std::string_view method;
  std::string_view target;  // as it may be logged (secrets redacted)
  int status = 0;
  std::size_t bytes = 0;
  double seconds = 0;
  // When the answer was sent. The line's time is read from it: the wall
  // clock is read once a second, as nginx reads it once per event cycle.
  std::chrono::steady_clock::time_point finished = std::chrono::steady_clock::now();
};

// Writes "access REMOTE METHOD TARGET STATUS BYTES 0.123ms" to the access
// log at info level: the same line access_logger().info would write, but
// formatted by hand straight into the buffer (no pattern formatter, no
// allocation). The remote address and the method are taken as they are (an
// address; a token, which has no character JSON escapes); the target is
// escaped.
void log_access(const AccessEntry& entry);

// Writes the access log's buffered lines now (graceful stop, tests).
void flush_access_log();

// The job id a log line is about: lines about a job start with "job <uuid>"
// or name the path /jobs/<uuid> (access log); the JSON format lifts that id
// into a "job_id" field. Empty otherwise.
std::string_view job_id_of(std::string_view line);

}  // namespace crawld
