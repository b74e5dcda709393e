// Parsing what a connection has buffered, as the server does between reads:
// a request that arrives in pieces, however small, parses as it would whole.
#include "http/request_reader.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace beast = boost::beast;
using crawld::http::parse_buffered;
using crawld::http::RequestParser;

namespace {

// Feeds `pieces` one after the other, parsing after each as serve() does
// after each read. Returns the parser's error (none once the request is done).
beast::error_code parse_pieces(const std::vector<std::string>& pieces, RequestParser& parser) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (const auto& piece : pieces) {
    auto space = buffer.prepare(piece.size());
    std::memcpy(space.data(), piece.data(), piece.size());
    buffer.commit(piece.size());
    if (parse_buffered(buffer, parser, ec)) return ec;
  }
  return beast::http::error::need_more;
}

const std::string chunked_head =
    "POST /start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

// Found by fuzzing: Boost 1.81's parser asserted on the last two bytes of an
// empty trailer arriving one at a time (the builds that check assertions
// aborted; src/util/boost_assert.cpp knows that assertion is wrong).
TEST_CASE("a chunked body whose end arrives a byte at a time parses", "[http]") {
  RequestParser parser;
  parser.eager(true);
  auto ec = parse_pieces({chunked_head + "2\r\n{}\r\n0\r\n", "\r", "\n"}, parser);
  CHECK_FALSE(ec);
  REQUIRE(parser.is_done());
  CHECK(parser.get().body() == "{}");

  RequestParser empty;
  empty.eager(true);
  ec = parse_pieces({chunked_head + "0\r\n", "\r", "\n"}, empty);
  CHECK_FALSE(ec);
  REQUIRE(empty.is_done());
  CHECK(empty.get().body().empty());
}

TEST_CASE("a request split into single bytes parses as it does whole", "[http]") {
  std::string whole = chunked_head + "5\r\nhello\r\n0\r\n\r\n";
  std::vector<std::string> bytes;
  for (char c : whole) bytes.emplace_back(1, c);
  RequestParser parser;
  parser.eager(true);
  auto ec = parse_pieces(bytes, parser);
  CHECK_FALSE(ec);
  REQUIRE(parser.is_done());
  CHECK(parser.get().body() == "hello");
  CHECK(parser.get().target() == "/start");
}
