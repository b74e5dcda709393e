#include "crawld/crawl/content_encoding.hpp"

#include <brotli/decode.h>
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>

namespace crawld::crawl {
namespace {

constexpr std::size_t chunk_bytes = std::size_t{64} * 1024;

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

// Appends up to the room left under `cap`; true once the output is full
// and more was on its way.
bool append_capped(DecodedBody& out, const char* data, std::size_t size, std::size_t cap) {
  const auto room = cap - out.body.size();
  out.body.append(data, std::min(room, size));
  if (size > room) {
    out.truncated = true;
    return true;
  }
  return false;
}

// zlib's stream over `wire`, ended when it goes out of scope.
class Inflater {
 public:
  Inflater(std::string_view wire, int window_bits) {
    ok_ = inflateInit2(&stream_, window_bits) == Z_OK;
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(wire.data()));
    stream_.avail_in = static_cast<uInt>(wire.size());
  }
  ~Inflater() {
    if (ok_) inflateEnd(&stream_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

// gzip (window_bits 15 + 16) or zlib-wrapped deflate (15) or raw deflate
// (-15). Returns false when the data is not of that kind at all.
bool inflate_into(DecodedBody& out, std::string_view wire, int window_bits, std::size_t cap) {
  Inflater inflater(wire, window_bits);
  if (!inflater.ok()) {
    out.error = "zlib: cannot initialise";
    return true;
  }
  z_stream& stream = inflater.stream();
  std::array<char, chunk_bytes> chunk;
  bool produced = false;
  bool member_done = false;
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = static_cast<uInt>(chunk.size());
    const int rc = inflate(&stream, Z_NO_FLUSH);
    const auto got = chunk.size() - stream.avail_out;
    produced = produced || got > 0;
    if (append_capped(out, chunk.data(), got, cap)) return true;
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow the first.
      member_done = true;
      if (stream.avail_in == 0 || window_bits < 16 || inflateReset(&stream) != Z_OK) return true;
      continue;
    }
    // Input ended before the stream did (the fetch cut it): keep what came.
    if (rc == Z_BUF_ERROR || (rc == Z_OK && stream.avail_in == 0 && got == 0)) return true;
    if (rc != Z_OK) {
      // Garbage after a whole member is ignored, as browsers do.
      if (member_done) return true;
      if (!produced) return false;
      out.error = "content-encoding: broken compressed data";
      return true;
    }
  }
}

// A whole gzip body in one call, when its trailer says the decoded size
// (ISIZE, the size modulo 2^32 of the last member) and that fits under
// `cap`. libdeflate decodes a buffer two to three times as fast as zlib's
// stream and checks the CRC and the size. Anything it does not finish
// exactly (several members, garbage after the member, a cut or lying
// trailer, broken data) returns false with `out` untouched, and zlib's
// stream decides, so the two paths agree on every body.
bool gzip_whole(DecodedBody& out, std::string_view wire, std::size_t cap) {
  constexpr std::size_t trailer = 8;
  constexpr std::size_t header = 10;
  // Deflate expands at most about 1032:1; a trailer claiming more lies.
  constexpr std::size_t max_ratio = 1032;
  if (wire.size() < header + trailer) return false;
  const auto* tail = reinterpret_cast<const unsigned char*>(wire.data() + wire.size() - 4);
  const std::size_t isize = std::size_t{tail[0]} | std::size_t{tail[1]} << 8U | std::size_t{tail[2]} << 16U |
                            std::size_t{tail[3]} << 24U;
  if (isize > cap || isize > wire.size() * max_ratio) return false;
  thread_local const std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> decompressor(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (!decompressor) return false;
  std::string body(isize, '\0');
  std::size_t used_in = 0;
  std::size_t produced = 0;
  const auto rc = libdeflate_gzip_decompress_ex(decompressor.get(), wire.data(), wire.size(), body.data(),
                                                body.size(), &used_in, &produced);
  if (rc != LIBDEFLATE_SUCCESS || used_in != wire.size() || produced != isize) return false;
  out.body = std::move(body);
  return true;
}

void brotli_into(DecodedBody& out, std::string_view wire, std::size_t cap) {
  const std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> state(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!state) {
    out.error = "brotli: cannot initialise";
    return;
  }
  auto next_in = reinterpret_cast<const std::uint8_t*>(wire.data());
  std::size_t avail_in = wire.size();
  std::array<char, chunk_bytes> chunk;
  while (true) {
    auto* next_out = reinterpret_cast<std::uint8_t*>(chunk.data());
    std::size_t avail_out = chunk.size();
    const auto rc = BrotliDecoderDecompressStream(state.get(), &avail_in, &next_in, &avail_out, &next_out, nullptr);
    if (append_capped(out, chunk.data(), chunk.size() - avail_out, cap)) return;
    if (rc == BROTLI_DECODER_RESULT_SUCCESS || rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return;
    if (rc == BROTLI_DECODER_RESULT_ERROR) {
      out.error = "content-encoding: broken compressed data";
      return;
    }
  }
}

}  // namespace

DecodedBody decode_body(std::string_view encoding, std::string wire, bool wire_truncated, std::size_t cap) {
  DecodedBody out;
  const auto name = lower_trimmed(encoding);
  if (name.empty() || name == "identity") {
    out.body = std::move(wire);
    out.truncated = wire_truncated;
    if (out.body.size() > cap) {
      out.body.resize(cap);
      out.truncated = true;
    }
    return out;
  }
  const bool gzip = name == "gzip" || name == "x-gzip";
  if (gzip && !wire_truncated && gzip_whole(out, wire, cap)) return out;
  out.body.reserve(std::min(cap, wire.size() * 4));
  if (gzip) {
    if (!inflate_into(out, wire, 15 + 16, cap)) out.error = "content-encoding: broken compressed data";
  } else if (name == "deflate") {
    // RFC 9110 means zlib's wrapper; some servers send the raw stream.
    if (!inflate_into(out, wire, 15, cap) && !inflate_into(out, wire, -15, cap)) {
      out.error = "content-encoding: broken compressed data";
    }
  } else if (name == "br") {
    brotli_into(out, wire, cap);
  } else {
    out.error = "content-encoding not supported: " + std::string(encoding.substr(0, 64));
  }
  if (wire_truncated) out.truncated = true;
  return out;
}

}  // namespace crawld::crawl
