// Connection strings: libpq URIs ("postgresql://user:secret@host/db?...")
// and key=value strings ("host=... password=secret").
//
// A password must never reach a log line or an API answer, so everything
// that prints a connection string goes through redact_conninfo().
#pragma once

#include <string>
#include <string_view>

namespace crawld::store {

// The connection string with any password replaced by "***".
std::string redact_conninfo(std::string_view conninfo);

// Adds connect_timeout (seconds) when the string does not set one, so a
// blackholed database host cannot hold a pool thread for minutes.
std::string with_connect_timeout(std::string_view conninfo, unsigned seconds);

}  // namespace crawld::store
