// GuardedHttpServer: cpp-httplib's plain-HTTP server with the defences `vrepo serve` needs
// against hostile clients (docs/remote.md, "Hostile peers"). httplib serves a connection on
// one pool thread from its first byte to its close, and its only timeout is per read, so 200
// clients trickling a byte every few seconds would hold every thread. This server caps the
// connections of each client address, gives each request's head a deadline, and makes bodies
// and answers keep a minimum rate. Thread-safe like httplib::Server.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace vrepo {

struct ConnectionLimits {
  int max_per_address = 32;  // connections open at once from one client address
  int head_timeout_s = 10;   // request line and headers, from the first byte
  int idle_timeout_s = 5;    // between requests of a kept-alive connection
  int stall_timeout_s = 60;  // longest pause inside a body or an answer
  uint64_t min_rate = 4096;  // bytes/s a body or answer must average after stall_timeout_s
};

class GuardedHttpServer : public httplib::Server {
 public:
  // `log` receives one line per refused connection.
  GuardedHttpServer(ConnectionLimits limits, std::function<void(const std::string&)> log);

  // From a handler: the current request's head has been read (its body and answer now run
  // under the rate rule instead of the head deadline). No-op outside a guarded connection.
  static void HeadRead();
  // From a handler: close the connection after this answer (its body was left unread, so
  // what follows on the connection is no request).
  static void CloseAfterAnswer();

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionLimits limits_;
  std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::map<std::string, int> open_;  // connections open per client address
};

// Debian builds httplib as a library that listens with a backlog of 5 (its
// CPPHTTPLIB_LISTEN_BACKLOG is fixed at build time): a burst of connections (a 16-stream push,
// slow clients being refused) overflowed it, and each dropped SYN cost its client a 1 s
// retransmit. Listening again on the bound socket widens the queue.
template <class Server>
class WideBacklog : public Server {
 public:
  using Server::Server;
  // Call after a successful bind.
  void WidenBacklog(int backlog) {
    if (this->svr_sock_ != INVALID_SOCKET) ::listen(this->svr_sock_, backlog);
  }
};

}  // namespace vrepo
