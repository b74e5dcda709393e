#include "crawld/crawl/content_encoding.hpp"
#include "crawld/crawl/page_analysis.hpp"

#include <brotli/encode.h>
#include <zlib.h>
#include <catch2/catch.hpp>

#include <string>

using crawld::crawl::decode_body;

namespace {

// window_bits: 15 + 16 gzip, 15 zlib ("deflate"), -15 raw deflate.
std::string deflate_with(const std::string& data, int window_bits) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string gzip(const std::string& data) { return deflate_with(data, 15 + 16); }

std::string brotli(const std::string& data) {
  std::string out(BrotliEncoderMaxCompressedSize(data.size()), '\0');
  std::size_t size = out.size();
  REQUIRE(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, data.size(),
                                reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                                reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_TRUE);
  out.resize(size);
  return out;
}

const std::string page =
    "<html><title>Compressed</title><a href=\"/next\">next</a>" + std::string(5000, ' ') + "</html>";

}  // namespace

TEST_CASE("gzip, deflate (wrapped or raw) and br bodies decode to the page", "[crawl][encoding]") {
  for (const auto& [encoding, wire] : {std::pair<std::string, std::string>{"gzip", gzip(page)},
                                       {"x-gzip", gzip(page)},
                                       {"GZIP", gzip(page)},
                                       {"deflate", deflate_with(page, 15)},
                                       {"deflate", deflate_with(page, -15)},
                                       {" br ", brotli(page)}}) {
    INFO(encoding);
    CHECK(wire.size() < page.size() / 4);
    auto decoded = decode_body(encoding, wire, false, 1 << 20);
    CHECK(decoded.error.empty());
    CHECK(decoded.body == page);
    CHECK_FALSE(decoded.truncated);
  }
}

TEST_CASE("no encoding, or identity, leaves the body as it is", "[crawl][encoding]") {
  CHECK(decode_body("", "plain", false, 100).body == "plain");
  CHECK(decode_body("identity", "plain", true, 100).truncated);
  auto capped = decode_body("", "0123456789", false, 4);
  CHECK(capped.body == "0123");
  CHECK(capped.truncated);
}

TEST_CASE("a body that expands without end stops at the cap (a gzip bomb)", "[crawl][encoding]") {
  const std::string zeros(std::size_t{64} << 20, '\0');
  for (const auto& [encoding, wire] : {std::pair<std::string, std::string>{"gzip", gzip(zeros)},
                                       {"br", brotli(zeros)},
                                       {"deflate", deflate_with(zeros, 15)}}) {
    INFO(encoding);
    CHECK(wire.size() < (std::size_t{1} << 20));
    auto decoded = decode_body(encoding, wire, false, std::size_t{1} << 20);
    CHECK(decoded.error.empty());
    CHECK(decoded.truncated);
    CHECK(decoded.body.size() == std::size_t{1} << 20);
    CHECK(decoded.body.capacity() < std::size_t{4} << 20);
  }
}

TEST_CASE("a compressed body cut by the fetch keeps what decodes, marked truncated", "[crawl][encoding]") {
  auto wire = gzip(page);
  auto decoded = decode_body("gzip", wire.substr(0, wire.size() / 2), true, 1 << 20);
  CHECK(decoded.error.empty());
  CHECK(decoded.truncated);
  CHECK(page.starts_with(decoded.body));
  // Cut without the fetch knowing (a server that lied): kept, not an error.
  CHECK(decode_body("br", brotli(page).substr(0, 20), false, 1 << 20).error.empty());
}

TEST_CASE("several gzip members are one body; garbage after a member is ignored", "[crawl][encoding]") {
  CHECK(decode_body("gzip", gzip("first ") + gzip("second"), false, 1000).body == "first second");
  auto trailing = decode_body("gzip", gzip("whole") + "not gzip at all", false, 1000);
  CHECK(trailing.body == "whole");
  CHECK(trailing.error.empty());
}

TEST_CASE("a whole gzip body decodes in one pass only when its trailer tells the truth", "[crawl][encoding]") {
  const auto wire = gzip(page);
  // Exactly the cap: whole, not truncated, no room wasted.
  auto exact = decode_body("gzip", wire, false, page.size());
  CHECK(exact.body == page);
  CHECK_FALSE(exact.truncated);
  CHECK(exact.body.capacity() < page.size() + 64);
  // One byte over the cap: the stream stops there.
  auto over = decode_body("gzip", wire, false, page.size() - 1);
  CHECK(over.body == page.substr(0, page.size() - 1));
  CHECK(over.truncated);
  // A trailer that lies about the size, smaller or far larger: broken data.
  for (const unsigned char top : {0x00, 0x7f}) {
    auto lying = wire;
    lying[lying.size() - 1] = static_cast<char>(top);
    lying[lying.size() - 4] = static_cast<char>(lying[lying.size() - 4] ^ 0x01);
    INFO(int{top});
    CHECK(decode_body("gzip", lying, false, 1 << 20).error == "content-encoding: broken compressed data");
  }
  // A wrong checksum: broken data.
  auto bad_crc = wire;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0x01);
  CHECK(decode_body("gzip", bad_crc, false, 1 << 20).error == "content-encoding: broken compressed data");
  // Cut without the fetch knowing: what decodes is kept, as with br.
  auto cut = decode_body("gzip", wire.substr(0, wire.size() / 2), false, 1 << 20);
  CHECK(cut.error.empty());
  CHECK_FALSE(cut.body.empty());
  CHECK(page.starts_with(cut.body));
  // Empty page.
  CHECK(decode_body("gzip", gzip(""), false, 100).body.empty());
}

TEST_CASE("broken data and unknown encodings are errors that say so", "[crawl][encoding]") {
  CHECK(decode_body("gzip", "this is not gzip", false, 1000).error == "content-encoding: broken compressed data");
  CHECK(decode_body("deflate", "nor this", false, 1000).error == "content-encoding: broken compressed data");
  CHECK(decode_body("br", std::string(64, '\xff'), false, 1000).error == "content-encoding: broken compressed data");
  auto wire = gzip(page);
  wire[wire.size() / 2] ^= 0x55;
  CHECK_FALSE(decode_body("gzip", wire, false, 1 << 20).error.empty());
  CHECK(decode_body("zstd", "x", false, 1000).error == "content-encoding not supported: zstd");
}

TEST_CASE("analyze_response decodes, then finds the links", "[crawl][encoding]") {
  std::set<std::string> allowed{"a.test"};
  crawld::crawl::AnalysisRequest request{true, true, "http://a.test/", &allowed, 1};
  auto analysis = crawld::crawl::analyze_response({gzip(page), "gzip", false}, 1 << 20, request);
  CHECK(analysis.title == "Compressed");
  CHECK(analysis.bytes == page.size());
  REQUIRE(analysis.links.size() == 1);
  CHECK(analysis.links[0].url == "http://a.test/next");
  auto broken = crawld::crawl::analyze_response({"junk", "gzip", false}, 1 << 20, request);
  CHECK(broken.links.empty());
  CHECK(broken.error == "content-encoding: broken compressed data");
}
