#include "connection.hpp"

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

namespace crawld::http {

namespace asio = boost::asio;

void watch(const std::shared_ptr<Connection>& connection) {
  auto now = std::chrono::steady_clock::now();
  connection->timer.expires_at(std::min(connection->deadline, now + connection->check_every));
  connection->timer.async_wait([connection](const boost::system::error_code& ec) {
    if (ec || !connection->open) return;
    if (std::chrono::steady_clock::now() >= connection->deadline) {
      connection->no_deadline();
      boost::system::error_code ignored;
      connection->socket.cancel(ignored);
    }
    watch(connection);
  });
}

ConnectionStream::ConnectionStream(std::shared_ptr<Connection> connection, bool chunked, const ServerConfig& config)
    : connection_(std::move(connection)),
      chunked_(chunked),
      max_buffer_(config.max_stream_buffer_bytes),
      write_timeout_(config.request_timeout_ms),
      waker_(connection_->socket.get_executor()) {}

void ConnectionStream::send_head(std::string_view head) {
  pending_.append(head);
  flush();
}

bool ConnectionStream::send(std::string_view text) {
  if (closed_) return false;
  if (text.empty()) return true;
  if (chunked_) {
    char digits[16];
    auto end = std::to_chars(std::begin(digits), std::end(digits), text.size(), 16).ptr;
    pending_.append(digits, end).append("\r\n");
  }
  pending_.append(text);
  if (chunked_) pending_.append("\r\n");
  body_bytes_ += text.size();
  last_sent_ = std::chrono::steady_clock::now();
  if (pending_.size() > max_buffer_) {
    dropped_ = true;
    spdlog::info("event stream to {} dropped: {} bytes unsent (server.max_stream_buffer_bytes {})", remote_,
                 pending_.size(), max_buffer_);
    broken();
    return false;
  }
  flush();
  return true;
}

asio::awaitable<void> ConnectionStream::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (!woken_ && !closed_) {
    waker_.expires_at(deadline);
    co_await waker_.async_wait(use_tuple);
  }
  woken_ = false;
}

void ConnectionStream::wake() {
  woken_ = true;
  waker_.cancel();
}

void ConnectionStream::close() {
  if (closed_) return;
  closed_ = true;
  wake();
}

void ConnectionStream::end() {
  close();
  if (ended_) return;
  ended_ = true;
  if (chunked_ && !broken_) pending_.append("0\r\n\r\n");
  flush();
  finish_if_done();
}

void ConnectionStream::broken() {
  broken_ = true;
  pending_.clear();
  close();
  cancel_read();
}

void ConnectionStream::flush() {
  if (writing_ || pending_.empty() || broken_) return;
  writing_ = true;
  sending_.swap(pending_);
  pending_.clear();
  connection_->expire_after(write_timeout_);
  asio::async_write(connection_->socket, asio::buffer(sending_),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      self->writing_ = false;
                      self->connection_->no_deadline();
                      self->sending_.clear();
                      if (ec) {
                        self->broken();
                        return;
                      }
                      self->flush();
                      self->finish_if_done();
                    });
}

void ConnectionStream::finish_if_done() {
  // (over() is what the session's read loop looks at.)
  if (ended_ && !writing_ && pending_.empty()) cancel_read();
}

void ConnectionStream::cancel_read() {
  boost::system::error_code ignored;
  connection_->socket.cancel(ignored);
}

}  // namespace crawld::http
