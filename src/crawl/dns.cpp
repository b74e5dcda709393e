#include "dns.hpp"

#include <ares.h>
#include <netinet/in.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

namespace crawld::crawl {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

// One lookup: its channel, the sockets c-ares opened for it, its timer.
class Lookup : public std::enable_shared_from_this<Lookup> {
 public:
  explicit Lookup(const asio::any_io_executor& executor) : executor_(executor), timer_(executor), done_(executor) {}
  ~Lookup() { destroy(); }
  Lookup(const Lookup&) = delete;
  Lookup& operator=(const Lookup&) = delete;

  // False (with error set) when the channel cannot be made.
  bool start(const std::string& host, const std::string& servers) {
    ares_options options{};
    options.sock_state_cb = &Lookup::on_socket_state;
    options.sock_state_cb_data = this;
    options.timeout = 2000;  // per try, ms; the caller's deadline bounds the whole
    options.tries = 2;
    const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (int rc = ares_init_options(&channel_, &options, mask); rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return finish_error(rc);
    }
    if (!servers.empty()) {
      if (int rc = ares_set_servers_ports_csv(channel_, servers.c_str()); rc != ARES_SUCCESS) return finish_error(rc);
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &Lookup::on_answer, this);
    arm_timer();
    return true;
  }

  asio::steady_timer& done_event() { return done_; }
  bool finished() const { return finished_; }
  DnsAnswer& answer() { return answer_; }
  std::chrono::seconds ttl() const { return ttl_; }

  // Ends the lookup at once: c-ares closes its sockets and answers
  // ARES_EDESTRUCTION, which is ignored.
  void destroy() {
    if (channel_ == nullptr) return;
    auto* channel = channel_;
    channel_ = nullptr;
    ares_destroy(channel);
    timer_.cancel();
  }

 private:
  struct Socket {
    explicit Socket(const asio::any_io_executor& executor, int fd) : descriptor(executor, fd) {}
    asio::posix::stream_descriptor descriptor;
    bool want_read = false, want_write = false, reading = false, writing = false;
  };

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Lookup*>(data);
    if (!readable && !writable) {
      // c-ares closes the socket itself, right after this.
      if (auto it = self->sockets_.find(fd); it != self->sockets_.end()) {
        it->second->descriptor.release();
        self->sockets_.erase(it);
      }
      return;
    }
    auto& socket = self->sockets_[fd];
    if (!socket) socket = std::make_shared<Socket>(self->executor_, fd);
    socket->want_read = readable != 0;
    socket->want_write = writable != 0;
    self->watch(fd, socket);
  }

  void watch(int fd, const std::shared_ptr<Socket>& socket) {
    if (socket->want_read && !socket->reading) wait_for(fd, socket, false);
    if (socket->want_write && !socket->writing) wait_for(fd, socket, true);
  }

  // One readiness wait on the socket; c-ares then reads (or writes) it.
  void wait_for(int fd, const std::shared_ptr<Socket>& socket, bool write) {
    (write ? socket->writing : socket->reading) = true;
    const auto what = write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read;
    socket->descriptor.async_wait(what, [self = shared_from_this(), fd, socket, write](error_code ec) {
      (write ? socket->writing : socket->reading) = false;
      if (ec || self->channel_ == nullptr) return;
      ares_process_fd(self->channel_, write ? ARES_SOCKET_BAD : fd, write ? fd : ARES_SOCKET_BAD);
      self->after_processing(fd);
    });
  }

  // The socket may still be wanted (a TCP answer in pieces, another try).
  void after_processing(int fd) {
    if (channel_ == nullptr) return;
    if (auto it = sockets_.find(fd); it != sockets_.end()) watch(fd, it->second);
    arm_timer();
  }

  void arm_timer() {
    if (channel_ == nullptr || finished_) return;
    timeval tv{};
    timeval* next = ares_timeout(channel_, nullptr, &tv);
    if (next == nullptr) return;
    timer_.expires_after(std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->channel_ == nullptr) return;
      ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->arm_timer();
    });
  }

  static void on_answer(void* data, int status, int, ares_addrinfo* result) {
    auto* self = static_cast<Lookup*>(data);
    const std::unique_ptr<ares_addrinfo, void (*)(ares_addrinfo*)> owned(result, ares_freeaddrinfo);
    if (status == ARES_EDESTRUCTION || self->finished_) return;
    self->finished_ = true;
    if (status != ARES_SUCCESS || result == nullptr) {
      self->set_error(status);
    } else {
      self->take(*result);
    }
    self->done_.cancel();
  }

  void take(const ares_addrinfo& result) {
    int ttl = 3600;
    for (auto* node = result.nodes; node != nullptr; node = node->ai_next) {
      if (node->ai_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
        asio::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), &in->sin_addr, bytes.size());
        answer_.addresses.emplace_back(asio::ip::address_v4(bytes));
      } else if (node->ai_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
        answer_.addresses.emplace_back(asio::ip::address_v6(bytes, in6->sin6_scope_id));
      } else {
        continue;
      }
      ttl = std::min(ttl, node->ai_ttl);
    }
    ttl_ = std::chrono::seconds(std::max(ttl, 0));
    if (answer_.addresses.empty()) set_error(ARES_ENODATA);
  }

  void set_error(int status) {
    answer_.error = status == ARES_ENOTFOUND || status == ARES_ENODATA ? "host not found"
                    : status == ARES_ETIMEOUT                          ? "timeout"
                                                                       : ares_strerror(status);
    answer_.transient =
        status == ARES_ETIMEOUT || status == ARES_ESERVFAIL || status == ARES_ECONNREFUSED || status == ARES_EREFUSED;
  }

  bool finish_error(int status) {
    set_error(status);
    answer_.error = "cannot start: " + answer_.error;
    finished_ = true;
    return false;
  }

  asio::any_io_executor executor_;
  ares_channel channel_ = nullptr;
  std::map<int, std::shared_ptr<Socket>> sockets_;
  asio::steady_timer timer_;
  asio::steady_timer done_;
  bool finished_ = false;
  DnsAnswer answer_;
  std::chrono::seconds ttl_{0};
};

}  // namespace

asio::awaitable<DnsAnswer> lookup_host(const asio::any_io_executor& executor, const std::string& host,
                                       const std::string& servers, Clock::time_point deadline, DnsCache& cache) {
  if (const auto* kept = cache.find(host, Clock::now())) co_return DnsAnswer{*kept, {}, false, false};
  init_library_once();
  auto lookup = std::make_shared<Lookup>(executor);
  if (!lookup->start(host, servers)) {
    lookup->destroy();
    co_return std::move(lookup->answer());
  }
  auto cancellation = co_await asio::this_coro::cancellation_state;
  while (!lookup->finished() && cancellation.cancelled() == asio::cancellation_type::none && Clock::now() < deadline) {
    lookup->done_event().expires_at(deadline);
    co_await lookup->done_event().async_wait(asio::as_tuple(asio::use_awaitable));
  }
  DnsAnswer answer;
  if (lookup->finished()) {
    answer = std::move(lookup->answer());
    if (answer.error.empty()) cache.store(host, answer.addresses, lookup->ttl(), Clock::now());
  } else if (cancellation.cancelled() != asio::cancellation_type::none) {
    answer.cancelled = true;
    answer.error = "cancelled";
  } else {
    answer.error = "timeout";
    answer.transient = true;
  }
  lookup->destroy();
  co_return answer;
}

}  // namespace crawld::crawl
