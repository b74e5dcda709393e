// Log set-up: human-readable text or one JSON object per line (spdlog).
#pragma once

#include "crawld/config.hpp"

#include <string>
#include <string_view>

namespace crawld {

// Installs the default logger. Throws ConfigError for an unwritable file.
void setup_logging(const LogConfig& config);

// Reopens the log file (after rotation; SIGHUP). No-op when logging to stderr.
void reopen_log_file();

// The job id a log line is about: lines about a job start with "job <uuid>"
// or name the path /jobs/<uuid> (access log); the JSON format lifts that id
// into a "job_id" field. Empty otherwise.
std::string_view job_id_of(std::string_view line);

}  // namespace crawld
