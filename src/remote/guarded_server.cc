#include "guarded_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace vrepo {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

// The numeric address of a socket's peer (or, with `local`, its own end).
std::string AddressOf(int fd, bool local, int* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int rc = local ? ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                 : ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char text[INET6_ADDRSTRLEN] = "?";
  *port = 0;
  if (rc == 0 && addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    *port = ntohs(in->sin_port);
  } else if (rc == 0 && addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    *port = ntohs(in6->sin6_port);
  }
  std::string out = text;
  // An IPv4 client of a dual-stack socket is the same client as over IPv4.
  if (out.rfind("::ffff:", 0) == 0 && out.find('.') != std::string::npos) out = out.substr(7);
  return out;
}

// A connection's socket as httplib's Stream, with deadlines where httplib has only a timeout
// per read: a request's head must arrive within head_timeout_s of its first byte, and a body
// or an answer may pause at most stall_timeout_s and must average min_rate after that long.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int fd, const ConnectionLimits& limits) : fd_(fd), limits_(limits) {}

  // Waits for the next request of the connection; false when none came in time.
  bool WaitForRequest() {
    if (buffered_ < filled_) return true;
    pollfd p{fd_, POLLIN, 0};
    return Poll(&p, limits_.idle_timeout_s * 1000) > 0 && (p.revents & POLLIN);
  }
  void BeginHead() {
    phase_ = Phase::kHead;
    head_deadline_ = Clock::now() + seconds(limits_.head_timeout_s);
  }
  void Begin(bool answer) {
    phase_ = answer ? Phase::kAnswer : Phase::kBody;
    start_ = last_ = Clock::now();
    bytes_ = 0;
  }
  bool close_after = false;

  bool is_readable() const override { return buffered_ < filled_ || Wait(POLLIN); }
  bool is_writable() const override { return Wait(POLLOUT); }

  ssize_t read(char* ptr, size_t size) override {
    if (phase_ == Phase::kAnswer) return -1;  // httplib reads nothing after answering
    if (buffered_ == filled_) {
      // httplib reads the head a byte at a time: buffer it, as its own SocketStream does.
      if (size >= sizeof(buffer_)) return Count(Receive(ptr, size));
      ssize_t got = Receive(buffer_, sizeof(buffer_));
      if (got <= 0) return got;
      buffered_ = 0;
      filled_ = static_cast<size_t>(got);
    }
    size_t n = std::min(size, filled_ - buffered_);
    std::copy(buffer_ + buffered_, buffer_ + buffered_ + n, ptr);
    buffered_ += n;
    return Count(static_cast<ssize_t>(n));
  }

  ssize_t write(const char* ptr, size_t size) override {
    // The handler's work (minutes for a big history) ran between the body and the answer.
    if (phase_ != Phase::kAnswer) Begin(/*answer=*/true);
    while (true) {
      ssize_t sent = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) return Count(sent);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!Wait(POLLOUT)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = AddressOf(fd_, false, &port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = AddressOf(fd_, true, &port);
  }
  socket_t socket() const override { return fd_; }

 private:
  enum class Phase { kHead, kBody, kAnswer };

  ssize_t Receive(char* ptr, size_t size) {
    while (true) {
      ssize_t got = ::recv(fd_, ptr, size, MSG_DONTWAIT);
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!Wait(POLLIN)) return -1;
    }
  }

  // Bytes read from the buffer count when httplib takes them, not when the kernel hands
  // them over, so a body counts from its own first byte.
  ssize_t Count(ssize_t n) {
    if (n > 0 && phase_ != Phase::kHead) {
      bytes_ += static_cast<uint64_t>(n);
      last_ = Clock::now();
    }
    return n;
  }

  Clock::time_point Deadline() const {
    if (phase_ == Phase::kHead) return head_deadline_;
    auto stalled = last_ + seconds(limits_.stall_timeout_s);
    auto slow = start_ + seconds(limits_.stall_timeout_s) +
                std::chrono::milliseconds(bytes_ * 1000 / std::max<uint64_t>(limits_.min_rate, 1));
    return std::min(stalled, slow);
  }

  bool Wait(short events) const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(Deadline() - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, events, 0};
    return Poll(&p, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30))) > 0;
  }

  static int Poll(pollfd* p, int timeout_ms) {
    int rc;
    do {
      rc = ::poll(p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc;
  }

  int fd_;
  const ConnectionLimits& limits_;
  Phase phase_ = Phase::kHead;
  Clock::time_point head_deadline_, start_, last_;
  uint64_t bytes_ = 0;
  char buffer_[4096];
  size_t buffered_ = 0;  // bytes of buffer_ already handed out
  size_t filled_ = 0;
};

// The stream of the connection this thread serves, for the handlers' hooks.
thread_local DeadlineStream* current = nullptr;

}  // namespace

GuardedHttpServer::GuardedHttpServer(ConnectionLimits limits,
                                     std::function<void(const std::string&)> log)
    : limits_(limits), log_(std::move(log)) {}

void GuardedHttpServer::HeadRead() {
  if (current) current->Begin(/*answer=*/false);
}

void GuardedHttpServer::CloseAfterAnswer() {
  if (current) current->close_after = true;
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  int port = 0;
  std::string address = AddressOf(sock, false, &port);
  bool admitted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int& open = open_[address];
    admitted = open < limits_.max_per_address;
    if (admitted) ++open;
    if (open == 0) open_.erase(address);
  }
  bool ret = false;
  if (!admitted) {
    // Refused before a byte is read, so a refused client costs this thread a moment only.
    std::string body = "too many connections from " + address + " (at most " +
                       std::to_string(limits_.max_per_address) + " at once)\n";
    std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    ssize_t ignored = ::send(sock, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    if (log_) log_(address + " refused: " + body.substr(0, body.size() - 1));
  } else {
    DeadlineStream stream(sock, limits_);
    current = &stream;
    for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
      if (!stream.WaitForRequest()) break;
      stream.BeginHead();
      bool closed = false;
      ret = process_request(stream, left == 1, closed, nullptr);
      if (!ret || closed || stream.close_after) break;
    }
    current = nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    if (--open_[address] == 0) open_.erase(address);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace vrepo
