// The HTTP remote against hostile peers (issue 13): slow clients that would starve `vrepo
// serve`, malformed Content-Length headers, read requests asking for huge answers, token
// guessing; and, on the client side, servers that send endless or trickling answers.
// Real `vrepo serve` processes and real sockets on 127.0.0.1; a hostile server is a raw socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "http_support.h"
#include "vrepo/remote/object_batch.h"

namespace vrepo::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A TCP connection from `from` (any 127.x.y.z is this machine) to 127.0.0.1:port.
int ConnectFrom(const char* from, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &local.sin_addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) == 0);
  return fd;
}

// Sends `request` on a new connection and returns everything the server sends until it
// closes the connection (or 10 s pass).
std::string Exchange(int port, const std::string& request) {
  int fd = ConnectFrom("127.0.0.1", port);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, n);
  }
  ::close(fd);
  return answer;
}

// Connections that each send one byte of a request head every `interval`, as a slow client
// does, until destroyed.
class Tricklers {
 public:
  Tricklers(const char* from, int port, int count, std::chrono::milliseconds interval) {
    for (int i = 0; i < count; ++i) fds_.push_back(ConnectFrom(from, port));
    thread_ = std::thread([this, interval] {
      const std::string head = "GET /team/x/refs HTTP/1.1\r\nHost: x\r\nX-Slow: ";
      size_t sent = 0;
      while (!stop_) {
        char c = sent < head.size() ? head[sent] : 'a';
        for (int fd : fds_) (void)::send(fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        ++sent;
        for (auto t = Clock::now() + interval; !stop_ && Clock::now() < t;) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  ~Tricklers() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }
  // How many of the connections the server has closed (a read sees the end).
  int Closed() const {
    int closed = 0;
    for (int fd : fds_) {
      // A refused connection first holds its 503 answer: read past it to the end.
      char buf[512];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
      }
      if (n == 0 || errno != EAGAIN) ++closed;
    }
    return closed;
  }

 private:
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A hostile server: accepts connections on 127.0.0.1, reads each request's head and hands
// the socket to `answer`, which writes whatever it likes until it returns or stopping().
class RawServer {
 public:
  explicit RawServer(std::function<void(RawServer&, int fd)> answer) : answer_(std::move(answer)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~RawServer() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
  }
  std::string Url(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
  }
  bool stopping() const { return stop_; }
  // Sends all of `data`; false when the client went away or the server stops.
  bool Send(int fd, std::string_view data) {
    while (!data.empty() && !stop_) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(n);
    }
    return !stop_;
  }
  // Waits `ms` unless the server stops first.
  bool Sleep(int ms) {
    for (auto end = Clock::now() + std::chrono::milliseconds(ms); Clock::now() < end;) {
      if (stop_) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !stop_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      connections_.emplace_back([this, fd] {
        std::string head;
        char c;
        while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) {
          head += c;
        }
        answer_(*this, fd);
        ::close(fd);
      });
    }
  }

  std::function<void(RawServer&, int)> answer_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::vector<std::thread> connections_;
};

TEST_CASE("http: a clone finishes in under 5 s while 200 slow clients trickle their headers") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(20);
  std::string url = server->Url("team/slow");
  Must(PushTo(*source.repo, url, kWriter));

  // From another address, as an attacker is: one address may hold 64 connections at once.
  Tricklers slow("127.0.0.2", server->port(), 200, std::chrono::milliseconds(2000));
  CHECK(server->WaitForLog("127.0.0.2 refused: too many connections from 127.0.0.2", 136));

  TempDir dest;
  auto start = Clock::now();
  auto cloned = CloneFrom(url, dest / "c", kReader);
  double seconds = SecondsSince(start);
  MESSAGE("clone during 200 slow connections: " << seconds << " s");
  REQUIRE(cloned.ok());
  CHECK(seconds < 5);
  CHECK(Head(dest / "c", "main") == Head(source.Path(""), "main"));
  CHECK(slow.Closed() >= 136);
}

TEST_CASE("http: a request head that does not arrive within --head-timeout ends the connection") {
  ServeRoot serve;
  auto server = serve.Start({"--head-timeout", "1"});
  Tricklers slow("127.0.0.1", server->port(), 3, std::chrono::milliseconds(200));
  auto start = Clock::now();
  while (slow.Closed() < 3 && SecondsSince(start) < 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  double seconds = SecondsSince(start);
  CHECK(slow.Closed() == 3);
  CHECK(seconds > 0.8);
  CHECK(seconds < 3);
}

TEST_CASE("http: a Content-Length that is not one plain number gets 400 and a closed connection") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(2);
  Must(PushTo(*source.repo, server->Url("team/cl"), kWriter));
  const std::string post = std::string("POST /team/cl/objects/missing HTTP/1.1\r\nHost: x\r\n") +
                           "Authorization: Bearer " + kWriter + "\r\n";
  struct Case {
    const char* what;
    std::string headers;
    const char* why;
  };
  std::vector<Case> cases = {
      {"not a number", "Content-Length: abc\r\n", "Content-Length is not a decimal number"},
      {"negative", "Content-Length: -32\r\n", "Content-Length is not a decimal number"},
      {"two of them", "Content-Length: 32\r\nContent-Length: 0\r\n",
       "more than one Content-Length"},
      {"signed", "Content-Length: +0\r\n", "Content-Length is not a decimal number"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    // What follows the head would be taken as a next request if the connection stayed open.
    std::string answer =
        Exchange(server->port(), post + c.headers + "\r\n" + "GET /team/cl/refs HTTP/1.1\r\n\r\n");
    CHECK(answer.rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(answer.find(c.why) != std::string::npos);
    CHECK(answer.find("HTTP/1.1 200") == std::string::npos);
  }
  std::string get = Exchange(server->port(),
                             "GET /team/cl/refs HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 5\r\n\r\nhello");
  CHECK(get.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(get.find("GET requests carry no body") != std::string::npos);
  // A plain one still works.
  std::string good =
      Exchange(server->port(), post + "Content-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(good.rfind("HTTP/1.1 200 ", 0) == 0);
}

TEST_CASE("http: a read answer is capped and de-duplicated, and clients ask again for the rest") {
  ServeRoot serve;
  auto server = serve.Start({"--max-read-answer", "1048576"});
  // Random bytes stay raw in the store: 12 objects of 300 KiB.
  constexpr size_t kSize = 300 << 10;
  SourceRepo source(12, kSize);
  std::string url = server->Url("team/big");
  Must(PushTo(*source.repo, url, kWriter));

  std::vector<ContentId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(ContentId::Of(RandomBytes(kSize + i, i)));
  // 16 KiB of request: 512 times the same id.
  std::string same;
  for (int i = 0; i < 512; ++i) same += ids[0].Raw();
  auto r = Raw(server->port(), "POST", "/team/big/objects/read", same, kReader);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto records = Must(ParseObjectBatch(r->body));
  CHECK(records.size() == 1);
  CHECK(r->body.size() < kSize + 4096);

  std::string six;
  for (const ContentId& id : ids) six += id.Raw();
  r = Raw(server->port(), "POST", "/team/big/objects/read", six, kReader);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  records = Must(ParseObjectBatch(r->body));
  CHECK(records.size() == 3);  // 3 x 300 KiB fit in 1 MiB, a fourth would not
  for (size_t i = 0; i < records.size(); ++i) CHECK(records[i].id == ids[i]);
  CHECK(r->body.size() <= (1u << 20));

  // A clone through the capped server asks again and gets everything.
  TempDir dest;
  Must(CloneFrom(url, dest / "c", kReader));
  CheckFsckClean(dest / "c");
  CHECK(ReadFileOrDie(dest / "c/images/b/11.bin") == RandomBytes(kSize + 11, 11));
}

TEST_CASE("http: after 10 unknown tokens an address gets 429 with Retry-After") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(2);
  Must(PushTo(*source.repo, server->Url("team/t"), kWriter));
  Must(PushTo(*source.repo, server->Url("public/p"), kWriter));
  int port = server->port();
  for (int i = 0; i < 10; ++i) {
    auto r = Raw(port, "GET", "/team/t/refs", "", "guess-" + std::to_string(i));
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  auto blocked = Raw(port, "GET", "/team/t/refs", "", "guess-10");
  REQUIRE(blocked);
  CHECK(blocked->status == 429);
  int wait = std::stoi(blocked->get_header_value("Retry-After"));
  CHECK(wait > 0);
  CHECK(wait <= 60);
  // Even a right token waits: otherwise the 429 would not stop the guessing.
  CHECK(Raw(port, "GET", "/team/t/refs", "", kReader)->status == 429);
  // Reads that need no token go on.
  CHECK(Raw(port, "GET", "/public/p/refs", "", "")->status == 200);
  // The client says what happened, on one line.
  auto listing = Open(server->Url("team/t"), kReader)->ListRefs();
  REQUIRE_FALSE(listing.ok());
  CHECK(listing.status().message().find("HTTP 429: too many unknown tokens") != std::string::npos);
  CHECK(server->Log().find("guess-") == std::string::npos);
}

// A hostile server's endless answers, and the client's limit on them.
std::string EndlessRefs(RawServer& s, int fd, bool declare_length) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
  head += declare_length ? "Content-Length: 99999999999\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!s.Send(fd, head)) return "";
  std::string line = std::string(40, 'a') + " refs/heads/branch-with-a-long-name\n";
  std::string block;
  for (int i = 0; i < 1000; ++i) block += line;
  while (s.Send(fd, block)) {
  }
  return "";
}

TEST_CASE("http: an endless ref list fails at the client's limit, naming the remote") {
  for (bool declared : {false, true}) {
    INFO("declared length: " << declared);
    RawServer liar([&](RawServer& s, int fd) { EndlessRefs(s, fd, declared); });
    TransportOptions options;
    options.max_listing_bytes = 1 << 20;
    auto start = Clock::now();
    auto listing = Must(OpenTransport(liar.Url("x"), options))->ListRefs();
    REQUIRE_FALSE(listing.ok());
    CHECK(listing.status().message() == liar.Url("x") +
                                            ": answer to GET /refs is over the limit of "
                                            "1048576 bytes");
    CHECK(SecondsSince(start) < 5);
  }
}

TEST_CASE("http: a server that trickles its answer fails the request within the deadlines") {
  TransportOptions options;
  options.answer_timeout_s = 2;
  options.stall_timeout_s = 1;
  options.min_rate = 1000;
  SUBCASE("a byte of the head every 300 ms") {
    RawServer slow([](RawServer& s, int fd) {
      for (char c : std::string("HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) {
        if (!s.Send(fd, std::string_view(&c, 1)) || !s.Sleep(300)) return;
      }
    });
    auto start = Clock::now();
    auto listing = Must(OpenTransport(slow.Url("x"), options))->ListRefs();
    double seconds = SecondsSince(start);
    REQUIRE_FALSE(listing.ok());
    CHECK(listing.status().message() == slow.Url("x") + ": no answer within 2 s");
    CHECK(seconds < 3.5);
  }
  SUBCASE("a byte of the body every 300 ms") {
    RawServer slow([](RawServer& s, int fd) {
      if (!s.Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")) return;
      while (s.Send(fd, "a") && s.Sleep(300)) {
      }
    });
    auto start = Clock::now();
    auto listing = Must(OpenTransport(slow.Url("x"), options))->ListRefs();
    double seconds = SecondsSince(start);
    REQUIRE_FALSE(listing.ok());
    CHECK(listing.status().message() ==
          slow.Url("x") + ": the answer came slower than 1000 bytes/s");
    CHECK(seconds < 3);
  }
  SUBCASE("a body that stops") {
    RawServer slow([](RawServer& s, int fd) {
      if (s.Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")) s.Sleep(20000);
    });
    auto start = Clock::now();
    auto listing = Must(OpenTransport(slow.Url("x"), options))->ListRefs();
    REQUIRE_FALSE(listing.ok());
    CHECK(listing.status().message() == slow.Url("x") + ": the answer stalled for 1 s");
    CHECK(SecondsSince(start) < 3);
  }
}

TEST_CASE("http: a failed clone leaves no folder behind and says why on one line") {
  RawServer liar([](RawServer& s, int fd) { EndlessRefs(s, fd, false); });
  TempDir work;
  // The CLI's own limits (64 MiB for a ref listing).
  CommandResult made = RunVrepo(work.path(), {"clone", liar.Url("team/x"), "new"});
  CHECK(made.exit_code != 0);
  CHECK(made.err == "Cloning into 'new'...\nvrepo: clone: " + liar.Url("team/x") +
                        ": answer to GET /refs is over the limit of 67108864 bytes\n");
  CHECK_FALSE(std::filesystem::exists(work / "new"));

  // An empty folder given as DIR stays, empty.
  std::filesystem::create_directories(work / "empty");
  CloneOptions options;
  options.transport.max_listing_bytes = 1 << 20;
  auto cloned = Clone(liar.Url("team/x"), work / "empty", options);
  REQUIRE_FALSE(cloned.ok());
  CHECK(std::filesystem::is_empty(work / "empty"));
}

}  // namespace
}  // namespace vrepo::testing
