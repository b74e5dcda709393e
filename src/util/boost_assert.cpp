// What a failed BOOST_ASSERT does in the builds that check assertions (the
// sanitizer builds and the fuzzers; release builds define NDEBUG and check
// none): it reports the assertion and aborts, as Boost's default does, with
// one exception below. The build defines BOOST_ENABLE_ASSERT_DEBUG_HANDLER
// everywhere, so every assertion in every translation unit comes here.
#include <boost/assert.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Boost 1.81's Beast asserts that it has at least 5 bytes when it parses a
// chunked body's final chunk again, but a client that sends that chunk's
// end a byte at a time ("0\r\n", then "\r", then "\n") gets there with 4.
// The code after the assertion handles that: it waits for the rest. Beast
// 1.86 relaxed the assertion (boostorg/beast pull request 2861).
bool known_wrong(const char* expr, const char* file) {
  return std::strcmp(expr, "n >= 5") == 0 && std::strstr(file, "boost/beast/http/impl/basic_parser.ipp") != nullptr;
}

}  // namespace

namespace boost {

void assertion_failed(const char* expr, const char* function, const char* file, long line) {
  if (known_wrong(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(const char* expr, const char* msg, const char* function, const char* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
