// crawld: starts web crawls on demand and keeps track of them.
#include "crawld/config.hpp"
#include "crawld/logging.hpp"
#include "crawld/service.hpp"
#include "crawld/version.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#ifdef CRAWLD_MIMALLOC
#include <mimalloc.h>
#endif

int main(int argc, char** argv) {
  CLI::App app{"crawld: starts web crawls on demand and keeps track of them"};
  std::string config_path;
  std::string listen;
  int port = -1;
  std::string log_format;
  app.add_option("-c,--config", config_path, "configuration file (JSON)");
  app.add_option("--listen", listen, "address to listen on (overrides server.listen and CRAWLD_LISTEN)");
  app.add_option("--port", port, "port to listen on, 0 for an ephemeral one")->check(CLI::Range(0, 65535));
  app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.set_version_flag("--version", "crawld " + std::string(crawld::version));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, like a bad config.
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  crawld::Config config;
  try {
    if (!config_path.empty()) config = crawld::load_config_file(config_path);
    crawld::apply_env_overrides(config);
    if (!listen.empty()) config.server.listen = listen;
    if (port >= 0) config.server.port = static_cast<std::uint16_t>(port);
    if (!log_format.empty()) config.log.format = log_format;
    crawld::validate_config(config);
    crawld::validate_complete(config);
    crawld::setup_logging(config.log);
  } catch (const crawld::ConfigError& e) {
    std::cerr << "crawld: configuration error: " << e.what() << "\n";
    return 2;
  }

#ifdef CRAWLD_MIMALLOC
  int mi = mi_version();
  spdlog::debug("memory allocator: mimalloc {}.{}.{}", mi / 100, mi / 10 % 10, mi % 10);
#endif
  try {
    crawld::Service service(std::move(config));
    return service.run();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}
