// RepositoryServer: `vrepo serve`, the HTTP(S) front of the repositories under one root folder
// (docs/remote.md, "HTTP"). Each request runs one RemoteService operation on ROOT/NAME.
// Requests are served on a pool of threads; Stop() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vrepo/remote/token_grants.h"
#include "vrepo/util/status.h"

// cpp-httplib's types, for the pages hook; only server.cc and the pages need the header.
namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace vrepo {

// Answers a request and returns true, or returns false to leave it to the repository routes.
using PagesHandler = std::function<bool(const httplib::Request&, httplib::Response&)>;

struct ServerOptions {
  std::string root;                // folder holding the repositories; must exist
  std::string host = "127.0.0.1";  // address to listen on
  int port = 0;                    // 0 = any free port (port() tells which)
  std::string tokens_file;         // "" = no tokens: everyone may read, nobody may write
  std::string tls_cert;            // PEM certificate and key: serve https instead of http
  std::string tls_key;
  uint64_t max_request = 256ull << 20;  // bigger request bodies get 413 and are never buffered
  int threads = 128;                    // concurrent connections served (others wait in a queue)
  // Defences against hostile clients (docs/remote.md, "Hostile peers"); https connections get
  // only the per-read timeouts and the token rate limit.
  int max_connections_per_address = 64;    // more from one address get 503 at once
  int head_timeout_s = 10;                 // for a request line and its headers
  int stall_timeout_s = 60;                // longest pause inside a body or an answer
  uint64_t min_rate = 4096;                // bytes/s a body or answer averages after a stall's time
  uint64_t max_read_answer = 64ull << 20;  // an object read answers at most this much (+1 object)
  int max_token_failures = 10;             // unknown tokens from one address per window, then 429
  int token_failure_window_s = 60;
  // Receives one line per request (no token in it), from the request's thread; none when
  // unset (the library never prints: `vrepo serve` passes one that writes to stderr).
  std::function<void(const std::string&)> log;
  // The web view (docs/ui.md), asked first for every target under `pages_prefix`; POST bodies
  // of at most `max_page_request` bytes are read into the request before it is asked, larger
  // ones get 413. With `pages_prefix` "" every target goes to the pages and those they leave
  // get 404: the server then serves no repository routes (`vrepo ui`).
  PagesHandler pages;
  std::string pages_prefix = "/ui";
  uint64_t max_page_request = 1ull << 20;
};

// The HTTP status for a failed request: 404 NotFound, 400 InvalidArgument, 409 Conflict, 503
// Locked, 507 NoSpace, 500 otherwise; Corruption is 400 in what the client sent (`client_sent`),
// else 500.
int HttpStatusFor(const Status& st, bool client_sent);
// The token of an `Authorization: Bearer T` header, "" when the request sends none.
std::string BearerToken(const httplib::Request& req);
// InvalidArgument unless `name` is one or more segments of [A-Za-z0-9._-] joined by single
// '/', none of them "." or "..": the only names a server maps to ROOT/NAME, and the only ones a
// client sends (and the web view's repository names).
Status CheckRepositoryName(const std::string& name);

class RepositoryServer {
 public:
  // Loads the tokens and the certificate and binds the listening socket; serving starts with
  // Run(). InvalidArgument naming the file and line for a malformed tokens file.
  static Result<std::unique_ptr<RepositoryServer>> Bind(const ServerOptions& options);
  ~RepositoryServer();

  int port() const;
  // "http://HOST:PORT" or "https://HOST:PORT".
  std::string url() const;
  // Serves until Stop(); requests in progress finish first.
  Status Run();
  // Stops accepting connections and makes Run() return (at once if it has not begun); safe
  // from any thread (not from a signal handler).
  void Stop();

 private:
  struct Impl;
  explicit RepositoryServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo
