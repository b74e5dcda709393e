// Log set-up: human-readable text or one JSON object per line (spdlog).
#pragma once

#include "crawld/config.hpp"

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

// Writes the access log's buffered lines now (graceful stop, tests).
void flush_access_log();

// The job id a log line is about: lines about a job start with "job <uuid>"
// or name the path /jobs/<uuid> (access log); the JSON format lifts that id
// into a "job_id" field. Empty otherwise.
std::string_view job_id_of(std::string_view line);

}  // namespace crawld
