#include "request_reader.hpp"

#include "connection.hpp"

#include <boost/asio/read.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <vector>

namespace crawld::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

ApiError parse_error_answer(const boost::system::error_code& ec, const ServerConfig& config) {
  if (ec == bhttp::error::header_limit) {
    return header_fields_too_large("request header exceeds " + std::to_string(config.max_header_bytes) + " bytes");
  }
  if (ec == bhttp::error::body_limit) {
    return payload_too_large("request body exceeds " + std::to_string(config.max_body_bytes) + " bytes");
  }
  return bad_request("malformed request: " + ec.message());
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// Framing the parser accepts but RFC 9112 does not: an HTTP/1.1 request
// without a Host, or with two (section 3.2); a Transfer-Encoding in an
// HTTP/1.0 request (section 6.1), or one whose final coding is not chunked,
// or any coding besides chunked (none is supported). The parser reads such a
// request as if it had no body, so the body would be taken for the next
// request (request smuggling). Returns why, or empty when the framing is fine.
std::string framing_error(const bhttp::request<bhttp::string_body>& req) {
  std::vector<std::string> codings;
  for (const auto& field : req) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    for (auto coding : bhttp::token_list{field.value()}) codings.emplace_back(coding);
  }
  // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host.
  if (req.version() >= 11 && req.count(bhttp::field::host) != 1) {
    return req.count(bhttp::field::host) == 0 ? "an HTTP/1.1 request needs a Host header"
                                              : "more than one Host header";
  }
  if (codings.empty()) return {};
  if (req.version() < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
  if (codings.size() != 1 || !beast::iequals(codings.back(), "chunked")) {
    return "unsupported Transfer-Encoding: only \"chunked\" is accepted";
  }
  return {};
}

// The path for the problem of a request answered before it was read whole
// (problem_instance). Beast fills in the target as soon as it has parsed the
// request line, also when a later check (a body over the limit) fails the
// request; else the request line is still in the bytes the parser could not
// use yet (a header over the limit).
std::string early_instance(const RequestParser& parser, const beast::flat_buffer& buffer) {
  return problem_instance(parser.get().target(),
                          std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()));
}

bool parse_buffered(beast::flat_buffer& buffer, RequestParser& parser, beast::error_code& ec) {
  while (buffer.size() > 0) {
    std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
    } else if (ec) {
      return true;
    }
    if (parser.is_done()) return true;
    if (used == 0) break;
  }
  return false;
}

// (serve() parses what is buffered first, without entering this coroutine.)
asio::awaitable<beast::error_code> read_request(asio::ip::tcp::socket& socket, beast::flat_buffer& buffer,
                                                RequestParser& parser) {
  beast::error_code ec;
  for (;;) {
    if (parse_buffered(buffer, parser, ec)) co_return ec;
    auto [read_ec, n] = co_await socket.async_read_some(buffer.prepare(beast::read_size(buffer, 65536)), use_tuple);
    if (read_ec == asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
      co_return ec;
    }
    if (read_ec) co_return read_ec;
    buffer.commit(n);
  }
}

Request to_request(bhttp::request<bhttp::string_body>& req, const std::string& remote) {
  Request request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  split_target(request);
  request.headers.reserve(std::distance(req.begin(), req.end()));
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.body = std::move(req.body());
  request.remote = remote;
  return request;
}

}  // namespace crawld::http
