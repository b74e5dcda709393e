#include "crawld/util/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstring>
#include <string>

namespace crawld::util {

void notify_service_manager(std::string_view state) {
  std::string text(state);
  int rc = sd_notify(0, text.c_str());
  if (rc < 0) spdlog::debug("service manager notification failed: {}", std::strerror(-rc));
}

}  // namespace crawld::util
