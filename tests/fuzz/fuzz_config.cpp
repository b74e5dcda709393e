// libFuzzer: configuration loading rejects bad input with ConfigError only.
#include "crawld/config.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    crawld::parse_config(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const crawld::ConfigError&) {
  }
  return 0;
}
