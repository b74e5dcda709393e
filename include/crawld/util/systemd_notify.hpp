// Tells systemd (Type=notify) what the service is doing: READY once it
// listens, RELOADING while SIGHUP reopens the log, STOPPING once a graceful
// stop begins. Without NOTIFY_SOCKET (not started by systemd) each call does
// nothing.
#pragma once

#include <string_view>

namespace crawld::util {

// Sends `state` ("READY=1\nSTATUS=...") to the service manager; a failure is
// logged at debug level and otherwise ignored: a manager that does not
// listen must never stop the service.
void notify_service_manager(std::string_view state);

}  // namespace crawld::util
