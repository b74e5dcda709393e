// The service's version, set by CMake from project(VERSION).
#pragma once

#include <string_view>

namespace crawld {
inline constexpr std::string_view version = CRAWLD_VERSION;
}
