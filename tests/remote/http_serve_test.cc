// `vrepo serve` and the HTTP transport, end to end against a real server process on
// 127.0.0.1: push and clone, tokens, bad names, the request limit, a server killed in the
// middle of a push, a server that sends bad objects, https, and 16 concurrent clients.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cli/cli_support.h"
#include "http_support.h"
#include "must.h"
#include "testing.h"
#include "vrepo/remote/server.h"
#include "vrepo/remote/sync.h"
#include "vrepo/remote/transport.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/file.h"
#include "vrepo/worktree/worktree.h"
#include "worktree/worktree_fixture.h"

namespace vrepo::testing {
namespace {

TEST_CASE("http: a clone of a pushed repository has the same commits, files and a clean fsck") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source;
  std::string url = server->Url("team/cats");
  SyncReport pushed = Must(PushTo(*source.repo, url, kWriter));
  CHECK(pushed.ok());
  CHECK(pushed.objects == 31);
  CHECK(server->WaitForLog("POST /team/cats/refs/update 200"));

  TempDir dest;
  std::string clone_dir = dest / "cats";
  SyncReport cloned = Must(CloneFrom(url, clone_dir, kReader));
  CHECK(cloned.ok());
  CHECK(Head(clone_dir, "main") == Head(source.Path(""), "main"));
  CHECK(Head(clone_dir, "main~1") == Head(source.Path(""), "main~1"));
  CHECK(Head(clone_dir, "v1") == Head(source.Path(""), "v1"));
  CHECK(SnapshotDiff(TakeSnapshot(source.Path("")), TakeSnapshot(clone_dir)) == "");
  CheckFsckClean(clone_dir);
  CheckFsckClean(serve.root + "/team/cats");

  // A second push of the same commits moves nothing.
  SyncReport again = Must(PushTo(*source.repo, url, kWriter));
  CHECK(again.objects == 0);

  // The token never reaches the log.
  std::string log = server->Log();
  CHECK(log.find(kWriter) == std::string::npos);
  CHECK(log.find(kReader) == std::string::npos);
}

TEST_CASE("http: a missing or wrong token gets 401, a read-only token 403, with clear messages") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(6);
  std::string url = server->Url("team/dogs");

  auto no_token = PushTo(*source.repo, url, "");
  REQUIRE_FALSE(no_token.ok());
  CHECK(no_token.status().message() == "authentication required for " + url +
                                           " (set VREPO_TOKEN or `vrepo remote add ... --token`)");

  auto wrong = PushTo(*source.repo, url, "not-a-token");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message().find("authentication required for " + url) == 0);
  CHECK(wrong.status().message().find("not-a-token") == std::string::npos);

  // Nothing was created by the refused writes.
  CHECK_FALSE(std::filesystem::exists(serve.root + "/team/dogs"));
  Must(PushTo(*source.repo, url, kWriter));

  source.Write("more.txt", "more");
  source.CommitAll("more");
  auto reader = PushTo(*source.repo, url, kReader);
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.status().message() == "token has no write access to " + url);
  CHECK(server->WaitForLog("POST /team/dogs/objects/write 403"));
  // The reader token reads team/*, not other repositories.
  Must(PushTo(*source.repo, server->Url("private/x"), kWriter));
  auto other = Open(server->Url("private/x"), kReader)->ListRefs();
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().message() == "token has no read access to " + server->Url("private/x"));
  // Anonymous reads only where granted.
  CHECK(Open(url, "")->ListRefs().status().message().find("authentication required") == 0);
  Must(PushTo(*source.repo, server->Url("public/demo"), kWriter));
  CHECK(Must(Open(server->Url("public/demo"), "")->ListRefs()).refs.size() == 2);
  // An unknown token is refused even where anonymous reads are allowed.
  auto mistyped = Open(server->Url("public/demo"), "not-a-token")->ListRefs();
  REQUIRE_FALSE(mistyped.ok());
  CHECK(mistyped.status().message().find("authentication required for") == 0);
  // An anonymous first push to a readable name that does not exist yet says why it fails.
  auto anonymous_first = PushTo(*source.repo, server->Url("public/new"), "");
  REQUIRE_FALSE(anonymous_first.ok());
  CHECK(anonymous_first.status().message().find(
            "a first push creates it, which needs write access there") != std::string::npos);

  CHECK(Raw(server->port(), "GET", "/team/dogs/refs", "", "")->status == 401);
  CHECK(Raw(server->port(), "GET", "/team/dogs/refs", "", "bogus")->status == 401);
  CHECK(Raw(server->port(), "POST", "/team/dogs/refs/update", "x", kReader)->status == 403);
}

TEST_CASE("http: repository names with .., absolute paths or encoded slashes are refused") {
  ServeRoot serve;
  auto server = serve.Start();
  std::string outside = serve.dir / "outside";
  for (std::string target :
       {"/../outside/refs", "/team/../../outside/refs", "/..%2Foutside/refs",
        "/team%2F..%2F..%2Foutside/refs", "/%2E%2E/outside/refs", "//tmp/refs", "/team//cats/refs",
        "/team/./cats/refs", "/te%00am/refs", "/a b/refs"}) {
    for (bool write : {false, true}) {
      INFO(target << (write ? " (write)" : ""));
      std::string path = target;
      if (write) path = target.substr(0, target.size() - 5) + "/objects/write";
      auto r = Raw(server->port(), write ? "POST" : "GET", path, std::string("VRB1\0\0\0\0", 8));
      REQUIRE(r);
      CHECK(r->status == 400);
      CHECK(r->body.find("bad repository name") == 0);
    }
  }
  CHECK_FALSE(std::filesystem::exists(outside));
  CHECK(std::filesystem::is_empty(serve.root));

  // The client refuses such URLs before sending anything.
  for (std::string name : {"../x", "a/../b", "a%2Fb", "a//b"}) {
    auto t = OpenTransport(server->Url(name), {});
    CHECK_FALSE(t.ok());
  }
  auto creds = OpenTransport("http://user:pw@127.0.0.1:1/x", {});
  REQUIRE_FALSE(creds.ok());
  CHECK(creds.status().message().find("pw") == std::string::npos);
}

TEST_CASE("http: malformed request bodies get 400 naming the problem") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(4);
  Must(PushTo(*source.repo, server->Url("team/x"), kWriter));
  int port = server->port();

  auto ids = Raw(port, "POST", "/team/x/objects/missing", std::string(33, 'a'));
  CHECK(ids->status == 400);
  CHECK(ids->body.find("not a multiple of 32") != std::string::npos);

  auto history = Raw(port, "POST", "/team/x/history/read", "want nothex\n");
  CHECK(history->status == 400);
  CHECK(history->body.find("history request line 1") == 0);

  auto update = Raw(port, "POST", "/team/x/refs/update", std::string(40, '0') + " zz refs/heads/x");
  CHECK(update->status == 400);
  CHECK(update->body.find("ref update line 1") == 0);

  // Five objects announced, seven bytes of them.
  auto batch = Raw(port, "POST", "/team/x/objects/write", std::string("VRB1\x05\0\0\0garbage", 15));
  CHECK(batch->status == 400);
  CHECK(batch->headers.find("X-Vrepo-Error")->second == "corruption");

  auto pack = Raw(port, "POST", "/team/x/history/write", "PACK not really");
  CHECK(pack->status >= 400);

  // Reads carry small bodies; a big one is refused whatever --max-request allows writes.
  auto big_read = Raw(port, "POST", "/team/x/objects/missing", std::string(17 << 20, 'a'));
  CHECK(big_read->status == 413);
  CHECK(big_read->body.find("limit of 16777216 bytes for reads") != std::string::npos);

  CHECK(Raw(port, "GET", "/team/x/nothing")->status == 404);
  CHECK(Raw(port, "GET", "/team/nope/refs")->status == 404);
  CheckFsckClean(serve.root + "/team/x");
}

TEST_CASE("http: a request over --max-request gets 413 without the server buffering it") {
  ServeRoot serve;
  auto server = serve.Start({"--max-request", "1048576"});
  SourceRepo source(4);
  std::string url = server->Url("team/big");
  Must(PushTo(*source.repo, url, kWriter));
  long rss_before = server->PeakRssKiB();
  REQUIRE(rss_before > 0);

  std::string body(64 << 20, 'x');
  auto r = Raw(server->port(), "POST", "/team/big/objects/write", body);
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->body.find("over the server's limit of 1048576 bytes") != std::string::npos);

  // A body without a length is refused before it is read.
  httplib::Client client("127.0.0.1", server->port());
  client.set_bearer_token_auth(kWriter);
  size_t sent = 0;
  auto chunked = client.Post(
      "/team/big/objects/write",
      [&](size_t, httplib::DataSink& sink) {
        if (sent < (64u << 20)) {
          sink.write(body.data(), 1 << 20);
          sent += 1 << 20;
        } else {
          sink.done();
        }
        return true;
      },
      "application/octet-stream");
  CHECK((!chunked || chunked->status == 411));

  // Neither body was held in memory, and the server still serves.
  long rss_after = server->PeakRssKiB();
  INFO("peak RSS before " << rss_before << " KiB, after " << rss_after << " KiB");
  CHECK(rss_after - rss_before < 16 * 1024);
  CHECK(Must(Open(url, kWriter)->ListRefs()).refs.size() == 2);

  // The client reports the limit.
  auto over = Open(url, kWriter)->WriteObjects(std::string(2 << 20, 'y'));
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().message().find("over the server's limit") != std::string::npos);
}

TEST_CASE("http: a push interrupted by a server crash completes when retried") {
  ServeRoot serve;
  auto server = serve.Start();
  // 48 objects of 512 KiB: three batches of 8 MiB.
  SourceRepo source(48, 512 << 10);
  std::string url = server->Url("team/crash");

  std::atomic<bool> done{false};
  Result<SyncReport> first = Status::IOError("not run");
  std::thread push([&] {
    first = PushTo(*source.repo, url, kWriter, /*jobs=*/1);
    done = true;
  });
  bool logged = server->WaitForLog("POST /team/crash/objects/write 200");
  server->Stop(SIGKILL);
  push.join();
  REQUIRE(logged);
  CHECK_FALSE(first.ok());
  INFO("first push: " << first.status().ToString());

  auto restarted = serve.Start({}, server->port());
  SyncReport retried = Must(PushTo(*source.repo, url, kWriter, /*jobs=*/1));
  CHECK(retried.ok());
  // Batches stored before the crash were not sent again.
  CHECK(retried.objects < 49);
  CHECK(retried.objects > 0);
  CheckFsckClean(serve.root + "/team/crash");

  TempDir dest;
  Must(CloneFrom(url, dest / "c", kWriter));
  CHECK(SnapshotDiff(TakeSnapshot(source.Path("")), TakeSnapshot(dest / "c")) == "");
}

TEST_CASE("http: a ref update from a stale value is refused with 409, the ref unmoved") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(6);
  std::string url = server->Url("team/cas");
  Must(PushTo(*source.repo, url, kWriter));
  std::string first = Head(source.Path(""), "main~1");
  std::string second = Head(source.Path(""), "main");

  // Another client saw main at its first commit and moves it back there.
  auto remote = Open(url, kWriter);
  Status st = remote->UpdateRefs({RefUpdate{"refs/heads/main", first, first, true}});
  CHECK(st.code() == Status::Code::kConflict);
  CHECK(st.message().find("fetch first") != std::string::npos);
  CHECK(server->WaitForLog("POST /team/cas/refs/update 409"));
  RefListing listing = Must(remote->ListRefs());
  REQUIRE(listing.head_branch);
  CHECK(*listing.head_branch == "refs/heads/main");
  for (const RemoteRef& r : listing.refs) {
    if (r.name == "refs/heads/main") CHECK(r.target == second);
  }

  // A ref may not name a commit the server lacks.
  std::string unknown(40, 'e');
  Status missing = remote->UpdateRefs({RefUpdate{"refs/heads/other", "", unknown, false}});
  CHECK_FALSE(missing.ok());
  CHECK(Must(remote->ListRefs()).refs.size() == 2);
}

TEST_CASE("http: a push to the branch a served working tree has checked out is kCheckedOut") {
  ServeRoot serve;
  std::string work = serve.root + "/team/work";
  Must(MakeDirs(work));
  {
    auto repo = Must(Repository::Init(work));
    WriteFile(work + "/x", "base");
    AgeFile(work + "/x", 10);
    Must(Add(*repo, {""}).status());
    Must(Commit(*repo, "base").status());
  }
  auto server = serve.Start();
  std::string url = server->Url("team/work");
  CHECK(Must(Open(url, kWriter)->ListRefs()).head_checked_out);
  TempDir dest;
  Must(CloneFrom(url, dest / "c", kReader).status());
  auto c = OpenAt(dest / "c", true);
  WriteFile(dest / "c/x", "from c");
  AgeFile(dest / "c/x", 10);
  Must(Add(*c, {""}).status());
  Must(Commit(*c, "c").status());
  SyncReport pushed = Must(PushTo(*c, url, kWriter));
  REQUIRE(pushed.refs.size() == 1);
  CHECK(pushed.refs[0].outcome == RefOutcome::kCheckedOut);
  CHECK(pushed.objects == 0);
  CHECK(ReadFileOrDie(work + "/x") == "base");

  // A repository that a push creates is bare: nothing is checked out there.
  Must(PushTo(*c, server->Url("team/bare"), kWriter).status());
  CHECK_FALSE(Must(Open(server->Url("team/bare"), kReader)->ListRefs()).head_checked_out);
}

// Serves what the real server serves, except that object batches are altered by `mangle`:
// a server gone bad, in front of a good one.
class ManglingProxy {
 public:
  ManglingProxy(int upstream_port, std::function<void(std::string*)> mangle)
      : upstream_port_(upstream_port), mangle_(std::move(mangle)) {
    auto forward = [this](const httplib::Request& req, httplib::Response& res) {
      httplib::Client up("127.0.0.1", upstream_port_);
      httplib::Headers headers;
      if (req.has_header("Authorization")) {
        headers.emplace("Authorization", req.get_header_value("Authorization"));
      }
      auto r = req.method == "GET"
                   ? up.Get(req.target, headers)
                   : up.Post(req.target, headers, req.body, "application/octet-stream");
      if (!r) {
        res.status = 502;
        return;
      }
      std::string body = r->body;
      if (r->status == 200 && req.path.size() >= 13 &&
          req.path.compare(req.path.size() - 13, 13, "/objects/read") == 0) {
        mangle_(&body);
      }
      res.status = r->status;
      for (const auto& [k, v] : r->headers) {
        if (k == "X-Vrepo-Error") res.set_header(k, v);
      }
      res.set_content(body, "application/octet-stream");
    };
    server_.Get(".*", forward);
    server_.Post(".*", forward);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ManglingProxy() {
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
  }

 private:
  int upstream_port_;
  std::function<void(std::string*)> mangle_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_CASE("http: an altered or truncated object from the server is rejected") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(10, 3000);
  Must(PushTo(*source.repo, server->Url("team/bad"), kWriter));

  SUBCASE("altered") {
    ManglingProxy proxy(server->port(), [](std::string* batch) {
      (*batch)[batch->size() - 1] ^= 0x40;  // inside the last object's bytes
    });
    TempDir dest;
    auto cloned = CloneFrom(proxy.Url("team/bad"), dest / "c", kReader);
    REQUIRE_FALSE(cloned.ok());
    CHECK(cloned.status().code() == Status::Code::kCorruption);
    CHECK(cloned.status().message().find("object batch: object ") != std::string::npos);
  }
  SUBCASE("truncated") {
    ManglingProxy proxy(server->port(),
                        [](std::string* batch) { batch->resize(batch->size() - 7); });
    TempDir dest;
    auto cloned = CloneFrom(proxy.Url("team/bad"), dest / "c", kReader);
    REQUIRE_FALSE(cloned.ok());
    CHECK(cloned.status().code() == Status::Code::kCorruption);
    CHECK(cloned.status().message().find("object batch") != std::string::npos);
  }
  SUBCASE("a ref listing that is not one, from a server that is not vrepo's") {
    httplib::Server liar;
    liar.Get(".*", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("HEAD refs/heads/main\nnot-a-commit refs/heads/main\n", "text/plain");
    });
    int port = liar.bind_to_any_port("127.0.0.1");
    std::thread t([&] { liar.listen_after_bind(); });
    auto listing = Open("http://127.0.0.1:" + std::to_string(port) + "/x")->ListRefs();
    liar.stop();
    t.join();
    REQUIRE_FALSE(listing.ok());
    CHECK(listing.status().message().find("line 2: target is not 40 hex digits") !=
          std::string::npos);
  }
}

TEST_CASE("http: a server that is not there is named in the error") {
  // A port that was free a moment ago.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  int port = ntohs(addr.sin_port);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  auto listing = Open(url)->ListRefs();
  REQUIRE_FALSE(listing.ok());
  CHECK(listing.status().message().find("cannot connect to 127.0.0.1:" + std::to_string(port)) ==
        0);
}

bool HaveOpenssl() { return std::system("openssl version > /dev/null 2>&1") == 0; }

TEST_CASE("http: https with a self-signed certificate") {
  if (!HaveOpenssl()) {
    MESSAGE("skipped: no openssl command to make a certificate");
    return;
  }
  ServeRoot serve;
  std::string cert = serve.dir / "cert.pem", key = serve.dir / "key.pem";
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " > /dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto server = serve.Start({"--tls-cert", cert, "--tls-key", key});
  std::string url = server->Url("team/tls");
  REQUIRE(url.rfind("https://127.0.0.1:", 0) == 0);

  SourceRepo source(8);
  // Not trusted without the CA.
  auto untrusted = PushTo(*source.repo, url, kWriter);
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.status().message().find("is not trusted") != std::string::npos);

  auto remote = Open(url, kWriter, cert);
  PushOptions options;
  options.branches = {"main"};
  options.tags = true;
  Must(Push(*source.repo, *remote, "origin", options));
  TempDir dest;
  Must(CloneFrom(url, dest / "c", kReader, cert));
  CHECK(Head(dest / "c", "main") == Head(source.Path(""), "main"));
  CHECK(SnapshotDiff(TakeSnapshot(source.Path("")), TakeSnapshot(dest / "c")) == "");

  // Plain http to the https port fails clearly.
  std::string plain = "http://127.0.0.1:" + std::to_string(server->port()) + "/team/tls";
  CHECK_FALSE(Open(plain, kReader)->ListRefs().ok());
}

TEST_CASE("http: 16 concurrent clients, clones and pushes of different branches") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(20);
  std::string url = server->Url("team/busy");
  Must(PushTo(*source.repo, url, kWriter));
  std::string base = Head(source.Path(""), "main");

  constexpr int kClients = 16;
  TempDir work;
  std::vector<std::string> errors(kClients);
  std::vector<std::string> pushed(kClients);
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::string dir = work / ("c" + std::to_string(i));
      auto cloned = CloneFrom(url, dir, kWriter);
      if (!cloned.ok()) {
        errors[i] = "clone: " + cloned.status().ToString();
        return;
      }
      if (i % 2 == 0) return;  // the even ones only clone
      OpenOptions options;
      options.wait_for_lock = true;
      auto repo = Repository::Discover(dir, options);
      if (!repo.ok()) {
        errors[i] = repo.status().ToString();
        return;
      }
      std::string branch = "b" + std::to_string(i);
      Status st = Switch(**repo, branch, /*create=*/true, {});
      std::string file = dir + "/new/";
      file += branch + ".txt";
      WriteFile(file, "client " + std::to_string(i));
      AgeFile(file, 10);
      if (st.ok()) st = Add(**repo, {""}).status();
      auto commit = Commit(**repo, "commit of " + branch);
      if (!st.ok() || !commit.ok()) {
        errors[i] = "commit: " + (st.ok() ? commit.status().ToString() : st.ToString());
        return;
      }
      auto report = PushTo(**repo, url, kWriter, 4, {branch});
      if (!report.ok() || !report->ok()) {
        errors[i] =
            "push: " + (report.ok() ? report->refs.at(0).StatusText() : report.status().ToString());
        return;
      }
      pushed[i] = commit->commit;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    INFO("client " << i);
    CHECK(errors[i] == "");
  }
  RefListing listing = Must(Open(url, kReader)->ListRefs());
  std::map<std::string, std::string> refs;
  for (const auto& r : listing.refs) refs[r.name] = r.target;
  CHECK(refs["refs/heads/main"] == base);
  for (int i = 1; i < kClients; i += 2) {
    INFO("branch b" << i);
    CHECK(refs["refs/heads/b" + std::to_string(i)] == pushed[i]);
  }
  CheckFsckClean(serve.root + "/team/busy");
  std::string log = server->Log();
  CHECK(log.find(" 500 ") == std::string::npos);
}

TEST_CASE("http: vrepo serve stops on SIGTERM and refuses a bad setup") {
  ServeRoot serve;
  auto server = serve.Start();
  CHECK(server->Stop(SIGTERM) == 0);
  CHECK(server->WaitForLog("vrepo serve: stopped"));

  WriteFile(serve.tokens, "tok rw *\nanonymous rw *\n");
  CommandResult bad = RunVrepo(serve.dir.path(), {"serve", "--root", serve.root, "--listen",
                                                  "127.0.0.1:0", "--tokens", serve.tokens});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find(serve.tokens + ":2: anonymous grants are read-only") != std::string::npos);

  CommandResult no_root = RunVrepo(
      serve.dir.path(), {"serve", "--root", serve.dir / "nope", "--listen", "127.0.0.1:0"});
  CHECK(no_root.exit_code != 0);
  CHECK(no_root.err.find("is not a folder") != std::string::npos);

  CommandResult bad_listen =
      RunVrepo(serve.dir.path(), {"serve", "--root", serve.root, "--listen", "localhost"});
  CHECK(bad_listen.exit_code != 0);
  CHECK(bad_listen.err.find("is not HOST:PORT") != std::string::npos);
}

// Sets an environment variable for the children a test starts, until the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST_CASE("http: vrepo remote, push, clone and pull over http never print the token") {
  ServeRoot serve;
  auto server = serve.Start();
  SourceRepo source(10);
  source.repo.reset();  // the commands below take the writer lock
  std::string src = source.Path("");
  std::string url = server->Url("team/cli");
  MustRun(src, {"remote", "add", "origin", url, "--token", kWriter});
  MustRun(src, {"remote", "add", "wrong", url, "--token", "wrong-token-value"});
  std::string listed = MustRun(src, {"remote", "list", "-v"}).out;
  CHECK(listed.find(url) != std::string::npos);
  CHECK(listed.find(kWriter) == std::string::npos);

  CommandResult refused = RunVrepo(src, {"push", "wrong", "main"});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("authentication required for " + url) != std::string::npos);
  CHECK((refused.out + refused.err).find("wrong-token-value") == std::string::npos);

  CommandResult pushed = MustRun(src, {"push", "origin", "main"});
  CHECK((pushed.out + pushed.err).find(kWriter) == std::string::npos);

  TempDir dest;
  {
    ScopedEnv token("VREPO_TOKEN", kReader);
    CommandResult cloned = MustRun(dest.path(), {"clone", url, "c"});
    CHECK((cloned.out + cloned.err).find(kReader) == std::string::npos);
  }
  CHECK(SnapshotDiff(TakeSnapshot(src), TakeSnapshot(dest / "c")) == "");

  // Without a token, a clone of team/* is refused; the reader token reads it.
  CommandResult anonymous = RunVrepo(dest.path(), {"clone", url, "anon"});
  CHECK(anonymous.exit_code != 0);
  CHECK(anonymous.err.find("authentication required for " + url) != std::string::npos);

  WriteFile(src + "/images/new.bin", "new image");
  MustRun(src, {"add", "."});
  MustRun(src, {"commit", "-m", "third"});
  MustRun(src, {"push", "origin", "main"});
  {
    ScopedEnv token("VREPO_TOKEN", kReader);
    MustRun(dest / "c", {"pull"});
  }
  CHECK(ReadFileOrDie(dest / "c/images/new.bin") == "new image");
  CHECK(Head(dest / "c", "HEAD") == Head(src, "HEAD"));
  CHECK(server->Log().find(kWriter) == std::string::npos);
}

}  // namespace
}  // namespace vrepo::testing
