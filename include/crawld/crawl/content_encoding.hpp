// Bodies sent with a Content-Encoding (gzip, deflate, br), decoded.
//
// A crawl asks for compressed bodies (a real site then sends a fifth to a
// tenth of the bytes) and decodes them on the compute pool before they are
// parsed: CPU work proportional to the body, never on the loop. Decoding
// streams into the output and stops at `cap` bytes, so a small body that
// expands without end (a "gzip bomb") costs at most `cap` bytes of memory
// and ends as a truncated page. A whole gzip body whose trailer gives a
// size under `cap` is decoded in one pass by libdeflate instead (the common
// case, two to three times as fast); every other body goes through zlib's
// or brotli's stream. Pure, and safe to call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace crawld::crawl {

// What crawld asks servers for.
inline constexpr const char* accepted_encodings = "gzip, deflate, br";

struct DecodedBody {
  std::string body;        // at most `cap` bytes
  bool truncated = false;  // the decoded body went on past `cap`
  std::string error;       // empty unless the encoding is unknown or the data broken
};

// `encoding` is the Content-Encoding header's value ("gzip", "x-gzip",
// "deflate" with or without its zlib wrapper, "br"; "" and "identity": as
// is; case-insensitive). `wire` ends early when the fetch cut it at its own
// cap (`wire_truncated`): what decodes of it is kept, and the page is
// truncated. Several gzip members in a row decode as one body.
DecodedBody decode_body(std::string_view encoding, std::string wire, bool wire_truncated, std::size_t cap);

}  // namespace crawld::crawl
