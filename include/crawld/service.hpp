// The whole service: one io_context and everything that runs on it.
//
// main() parses the command line and the configuration; Service wires the
// HTTP server, the API, the job manager and the store together, handles
// signals, and runs the loop on the calling thread until a graceful stop.
#pragma once

#include "crawld/config.hpp"

#include <memory>

namespace crawld {

class Service {
 public:
  explicit Service(Config config);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Runs until SIGTERM/SIGINT and the graceful stop completes. Returns the
  // process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crawld
