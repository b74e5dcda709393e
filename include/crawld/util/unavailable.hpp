// "Cannot answer now, try again later": a dependency (the database) is down,
// too slow, or refused. Thrown below the API; the HTTP server maps it to
// 503 with Retry-After in one place (http::Server's dispatch).
#pragma once

#include <stdexcept>
#include <string>

namespace crawld::util {

class Unavailable : public std::runtime_error {
 public:
  explicit Unavailable(const std::string& what, int retry_after_s = 5)
      : std::runtime_error(what), retry_after_s_(retry_after_s) {}
  int retry_after_s() const { return retry_after_s_; }

 private:
  int retry_after_s_;
};

}  // namespace crawld::util
