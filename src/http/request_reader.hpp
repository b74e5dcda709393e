// Reading one request from a connection: parsing what is buffered, reading
// more, the framing checks, the answers to malformed requests, and the
// conversion to the router's Request. Internal to src/http.
#pragma once

#include "crawld/http/message.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/http/server.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

namespace crawld::http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Maps a parse error to the answer a client gets before the connection closes.
ApiError parse_error_answer(const boost::system::error_code& ec, const ServerConfig& config);

// A malformed request (not a timeout, reset or end of stream).
bool is_parse_error(const boost::system::error_code& ec);

// Framing the parser accepts but RFC 9112 does not (see the definition).
// Returns why, or empty when the framing is fine.
std::string framing_error(const boost::beast::http::request<boost::beast::http::string_body>& req);

// The path for the problem of a request answered before it was read whole.
std::string early_instance(const RequestParser& parser, const boost::beast::flat_buffer& buffer);

// Feeds what `buffer` holds to `parser`; true when that settles the request
// (complete, or an error in `ec`). Bytes past the request stay in `buffer`
// (pipelining).
bool parse_buffered(boost::beast::flat_buffer& buffer, RequestParser& parser, boost::beast::error_code& ec);

// Reads one request into `parser`, from what `buffer` already holds and then
// from the socket.
boost::asio::awaitable<boost::beast::error_code> read_request(boost::asio::ip::tcp::socket& socket,
                                                              boost::beast::flat_buffer& buffer,
                                                              RequestParser& parser);

// The router's view of a parsed request (header names in lower case; the
// body is moved out of `req`).
Request to_request(boost::beast::http::request<boost::beast::http::string_body>& req, const std::string& remote);

}  // namespace crawld::http
