#include "vrepo/remote/server.h"

#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "guarded_server.h"
#include "http_wire.h"
#include "vrepo/remote/service.h"
#include "vrepo/remote/token_failures.h"
#include "vrepo/util/file.h"

namespace vrepo {
namespace {

enum class Op {
  kListRefs,
  kMissing,
  kReadObjects,
  kWriteObjects,
  kReadHistory,
  kWriteHistory,
  kUpdateRefs
};

struct Route {
  std::string_view method;
  std::string_view suffix;  // after "/NAME"
  Op op;
  bool write;
};

constexpr Route kRoutes[] = {
    {"GET", "/refs", Op::kListRefs, false},
    {"POST", "/objects/missing", Op::kMissing, false},
    {"POST", "/objects/read", Op::kReadObjects, false},
    {"POST", "/objects/write", Op::kWriteObjects, true},
    {"POST", "/history/read", Op::kReadHistory, false},
    {"POST", "/history/write", Op::kWriteHistory, true},
    {"POST", "/refs/update", Op::kUpdateRefs, true},
};

// Bodies of reads (id lists, want/have lines) are small: a client batches its ids in far
// less. Capping them keeps what anonymous readers can make the server hold to
// threads x 16 MiB; only writers, with a token, send up to --max-request.
constexpr uint64_t kMaxReadRequest = 16ull << 20;

// Set when a request's headers have been read, for the duration in its log line. httplib
// serves a request from its first byte to its log line on one thread.
thread_local std::chrono::steady_clock::time_point request_start;

void SetText(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text + "\n", "text/plain");
}

// Sends `body` without a second copy of it.
void SetBinary(httplib::Response& res, std::string body) {
  auto shared = std::make_shared<std::string>(std::move(body));
  res.status = 200;
  res.set_content_provider(shared->size(), "application/octet-stream",
                           [shared](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(shared->data() + offset, length);
                           });
}

// Connections the kernel holds for accept (somaxconn caps it).
constexpr int kListenBacklog = 1024;

// 1 to 19 decimal digits: a Content-Length that fits in 64 bits without a sign or spaces.
bool IsDecimal(const std::string& s) {
  return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

// Whether `target` is `prefix` or lies under it ("" holds everything).
bool UnderPrefix(const std::string& target, const std::string& prefix) {
  if (prefix.empty()) return true;
  if (target.compare(0, prefix.size(), prefix) != 0) return false;
  return target.size() == prefix.size() || target[prefix.size()] == '/';
}

}  // namespace

int HttpStatusFor(const Status& st, bool client_sent) {
  switch (st.code()) {
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kInvalidArgument:
      return 400;
    // A batch or pack the client sent that fails verification is its fault; bad bytes in the
    // server's own store are the server's.
    case Status::Code::kCorruption:
      return client_sent ? 400 : 500;
    case Status::Code::kConflict:
      return 409;
    case Status::Code::kLocked:
      return 503;
    case Status::Code::kNoSpace:
      return 507;
    default:
      return 500;
  }
}

std::string BearerToken(const httplib::Request& req) {
  std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.compare(0, kBearer.size(), kBearer) != 0) return "";
  return header.substr(kBearer.size());
}

struct RepositoryServer::Impl {
  ServerOptions options;
  TokenGrants grants;
  std::unique_ptr<TokenFailures> token_failures;
  std::unique_ptr<httplib::Server> http;
  int port = 0;
  bool tls = false;
  std::atomic<bool> stopped{false};
  std::mutex mu;  // guards the wait for `stopped`
  std::condition_variable stop_requested;

  void Log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  // Status -> HTTP code; X-Vrepo-Error carries the exact code back to a vrepo client.
  void SetError(httplib::Response& res, const Status& st, bool write_op) const {
    const int code = HttpStatusFor(st, /*client_sent=*/write_op);
    // Clients are told names relative to the root, not where the root is on this machine.
    std::string message = ReplaceAll(st.message(), options.root + "/", "");
    res.set_header(kErrorCodeHeader, ErrorCodeName(st.code()));
    SetText(res, code, message);
  }

  Status MakeHttp(std::function<void()>* widen);
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  void LogRequest(const httplib::Request& req, const httplib::Response& res) const;
  void Handle(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader* reader);
  bool HandlePage(const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader* reader);
  Status Run(const Route& route, const std::string& name, bool create_if_missing,
             const std::string& body, httplib::Response& res);
};

void RepositoryServer::Impl::Handle(const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader* reader) {
  // Names come from the raw target, so that "%2F" or "%2E%2E" never become '/' or "..".
  std::string target = req.target.substr(0, req.target.find('?'));
  if (options.pages && UnderPrefix(target, options.pages_prefix)) {
    if (HandlePage(req, res, reader)) return;
    if (options.pages_prefix.empty()) {
      if (reader) (*reader)([](const char*, size_t) { return true; });
      return SetText(res, 404, "no such page: " + req.method + " " + target);
    }
  }
  const Route* route = nullptr;
  std::string name;
  for (const Route& r : kRoutes) {
    if (req.method != r.method) continue;
    if (target.size() <= r.suffix.size() + 1 || target.front() != '/') continue;
    if (target.compare(target.size() - r.suffix.size(), r.suffix.size(), r.suffix) != 0) continue;
    route = &r;
    name = target.substr(1, target.size() - r.suffix.size() - 1);
    break;
  }
  auto drain = [&] {
    // Read and drop a refused body, so the client gets this answer rather than a broken pipe.
    if (reader) (*reader)([](const char*, size_t) { return true; });
  };
  if (!route) {
    drain();
    return SetText(res, 404, "no such endpoint: " + req.method + " " + target);
  }
  if (Status st = CheckRepositoryName(name); !st.ok()) {
    drain();
    return SetText(res, 400, st.message());
  }

  std::string token = BearerToken(req);
  Access needed = route->write ? Access::kReadWrite : Access::kRead;
  Access access = grants.AccessFor(token, name);
  // A token the server does not know is refused even where anonymous reads are allowed: a
  // client with a mistyped token should hear so, not get answers as if it had sent none.
  const bool unknown_token = !token.empty() && !grants.Knows(token);
  if (access < needed || unknown_token) {
    drain();
    if (unknown_token) {
      token_failures->Fail(req.remote_addr);
      res.set_header("WWW-Authenticate", "Bearer");
      return SetText(res, 401, "unknown token for " + name);
    }
    if (token.empty()) {
      res.set_header("WWW-Authenticate", "Bearer");
      return SetText(res, 401, "authentication required for " + name);
    }
    return SetText(
        res, 403,
        std::string("token has no ") + (route->write ? "write" : "read") + " access to " + name);
  }

  std::string body;
  if (reader) {
    uint64_t declared = req.get_header_value<uint64_t>("Content-Length");
    if (!route->write && declared > kMaxReadRequest) {
      drain();
      return SetText(res, 413,
                     "read request of " + std::to_string(declared) +
                         " bytes is over the server's limit of " + std::to_string(kMaxReadRequest) +
                         " bytes for reads");
    }
    if (declared <= options.max_request) body.reserve(declared);
    bool read = (*reader)([&](const char* data, size_t size) {
      body.append(data, size);
      return true;
    });
    if (!read) {
      // httplib has set 413 (and skipped the body) or 400.
      if (res.status == 413) {
        return SetText(res, 413,
                       "request of " + std::to_string(declared) +
                           " bytes is over the server's limit of " +
                           std::to_string(options.max_request) + " bytes");
      }
      return SetText(res, 400, "could not read the request body");
    }
  }
  // A writer's reads of a repository its push is about to create answer as for an empty one.
  bool create_if_missing = access == Access::kReadWrite;
  if (Status st = Run(*route, name, create_if_missing, body, res); !st.ok()) {
    SetError(res, st, route->write);
  }
}

// The pages get the request with its body read; a body over max_page_request is refused with
// the JSON error the pages answer with, and the pages are not asked.
bool RepositoryServer::Impl::HandlePage(const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader* reader) {
  if (!reader) return options.pages(req, res);
  uint64_t declared = req.get_header_value<uint64_t>("Content-Length");
  if (declared > options.max_page_request) {
    (*reader)([](const char*, size_t) { return true; });
    res.status = 413;
    res.set_content("{\"error\": \"request body of " + std::to_string(declared) +
                        " bytes is over the web view's limit of " +
                        std::to_string(options.max_page_request) + " bytes\"}",
                    "application/json");
    return true;
  }
  httplib::Request with_body = req;
  with_body.body.reserve(declared);
  bool read = (*reader)([&](const char* data, size_t size) {
    if (with_body.body.size() + size > options.max_page_request) return false;
    with_body.body.append(data, size);
    return true;
  });
  if (!read) {
    res.status = 400;
    res.set_content("{\"error\": \"could not read the request body\"}", "application/json");
    return true;
  }
  return options.pages(with_body, res);
}

Status RepositoryServer::Impl::Run(const Route& route, const std::string& name,
                                   bool create_if_missing, const std::string& body,
                                   httplib::Response& res) {
  std::unique_ptr<RemoteService> service =
      RemoteService::AtPath(JoinPath(options.root, name), create_if_missing);
  switch (route.op) {
    case Op::kListRefs: {
      VREPO_ASSIGN_OR_RETURN(RefListing listing, service->ListRefs());
      res.status = 200;
      res.set_content(FormatRefListing(listing), "text/plain");
      if (listing.head_checked_out) res.set_header(kCheckedOutHeader, *listing.head_branch);
      return Status::OK();
    }
    case Op::kMissing: {
      VREPO_ASSIGN_OR_RETURN(std::vector<ContentId> ids, ParseIdList(body, "request"));
      VREPO_ASSIGN_OR_RETURN(std::vector<ContentId> missing, service->MissingObjects(ids));
      SetBinary(res, FormatIdList(missing));
      return Status::OK();
    }
    case Op::kReadObjects: {
      VREPO_ASSIGN_OR_RETURN(std::vector<ContentId> ids, ParseIdList(body, "request"));
      // An id asked for twice is sent once, and the answer is capped: the client asks again
      // for the ids after the last object it got (docs/remote.md, "Hostile peers").
      std::unordered_set<ContentId, ContentIdHash> seen;
      std::erase_if(ids, [&](const ContentId& id) { return !seen.insert(id).second; });
      VREPO_ASSIGN_OR_RETURN(std::string batch,
                             service->ReadObjectsUpTo(ids, options.max_read_answer));
      SetBinary(res, std::move(batch));
      return Status::OK();
    }
    case Op::kWriteObjects: {
      VREPO_ASSIGN_OR_RETURN(uint64_t stored, service->WriteObjects(body));
      SetText(res, 200, "stored " + std::to_string(stored));
      return Status::OK();
    }
    case Op::kReadHistory: {
      std::vector<std::string> wants, haves;
      VREPO_RETURN_IF_ERROR(ParseHistoryRequest(body, &wants, &haves));
      VREPO_ASSIGN_OR_RETURN(std::string pack, service->ReadHistory(wants, haves));
      SetBinary(res, std::move(pack));
      return Status::OK();
    }
    case Op::kWriteHistory: {
      VREPO_RETURN_IF_ERROR(service->WriteHistory(body));
      SetText(res, 200, "ok");
      return Status::OK();
    }
    case Op::kUpdateRefs: {
      VREPO_ASSIGN_OR_RETURN(std::vector<RefUpdate> updates, ParseRefUpdates(body));
      VREPO_RETURN_IF_ERROR(service->UpdateRefs(updates));
      SetText(res, 200, "ok");
      return Status::OK();
    }
  }
  return Status::InvalidArgument("unknown operation");
}

RepositoryServer::RepositoryServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RepositoryServer::~RepositoryServer() = default;

// The HTTP server: TLS when a certificate is given, else the guarded plain one; *widen
// re-listens with a wide backlog once bound.
Status RepositoryServer::Impl::MakeHttp(std::function<void()>* widen) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!options.tls_cert.empty()) {
    for (const std::string& f : {options.tls_cert, options.tls_key}) {
      if (::access(f.c_str(), R_OK) != 0) return Status::FromErrno(f, errno);
    }
    auto ssl = std::make_unique<WideBacklog<httplib::SSLServer>>(options.tls_cert.c_str(),
                                                                 options.tls_key.c_str());
    *widen = [p = ssl.get()] { p->WidenBacklog(kListenBacklog); };
    if (!ssl->is_valid()) {
      return Status::InvalidArgument("cannot use TLS certificate " + options.tls_cert +
                                     " with key " + options.tls_key +
                                     " (not PEM, or they do not match)");
    }
    http = std::move(ssl);
    tls = true;
  } else {
    ConnectionLimits limits;
    limits.max_per_address = std::max(options.max_connections_per_address, 1);
    limits.head_timeout_s = options.head_timeout_s;
    limits.stall_timeout_s = options.stall_timeout_s;
    limits.min_rate = options.min_rate;
    auto plain = std::make_unique<WideBacklog<GuardedHttpServer>>(
        limits, [this](const std::string& line) { Log(line); });
    *widen = [p = plain.get()] { p->WidenBacklog(kListenBacklog); };
    http = std::move(plain);
  }
  return Status::OK();
}

// Checks a request's head before routing: one plain Content-Length (or none without a body),
// no chunked bodies, and no token from an address that sent too many unknown ones.
httplib::Server::HandlerResponse RepositoryServer::Impl::PreRoute(const httplib::Request& req,
                                                                  httplib::Response& res) {
  request_start = std::chrono::steady_clock::now();
  GuardedHttpServer::HeadRead();
  // A refusal here leaves the body unread, so the connection ends with the answer: what
  // follows on it is no request.
  auto refuse = [&](int status, const std::string& why) {
    GuardedHttpServer::CloseAfterAnswer();
    res.set_header("Connection", "close");
    SetText(res, status, why);
    return httplib::Server::HandlerResponse::Handled;
  };
  // httplib reads a malformed length as 0 and keeps the first of two: a proxy in front
  // could frame the body otherwise, so anything but one plain number is refused.
  size_t lengths = req.get_header_value_count("Content-Length");
  const bool has_body = req.method != "GET" && req.method != "HEAD";
  if (lengths > 1) return refuse(400, "more than one Content-Length header");
  if (lengths == 1 && !IsDecimal(req.get_header_value("Content-Length"))) {
    return refuse(400, "Content-Length is not a decimal number");
  }
  // A body of unknown length could only be bounded by reading it; vrepo clients always
  // send Content-Length.
  if (req.has_header("Transfer-Encoding") || (has_body && lengths == 0)) {
    return refuse(411, "Content-Length required");
  }
  if (!has_body && lengths == 1 && req.get_header_value("Content-Length") != "0") {
    return refuse(400, req.method + " requests carry no body");
  }
  if (req.has_header("Authorization")) {
    if (int wait = token_failures->RetryAfter(req.remote_addr); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      return refuse(429, "too many unknown tokens from " + req.remote_addr + "; retry in " +
                             std::to_string(wait) + " s");
    }
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

// One log line per request: address, method, path, status, bytes in and out, time, and the
// first line of an error's text.
void RepositoryServer::Impl::LogRequest(const httplib::Request& req,
                                        const httplib::Response& res) const {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  request_start)
                .count();
  std::string in = req.get_header_value("Content-Length");
  // Binary answers are sent by a content provider, so the body is empty and the length is
  // only in content_length_.
  size_t out = res.body.empty() ? res.content_length_ : res.body.size();
  std::string line = req.remote_addr + " " + req.method + " " +
                     req.target.substr(0, req.target.find('?')) + " " + std::to_string(res.status) +
                     " in=" + (in.empty() ? "0" : in) + " out=" + std::to_string(out) + " " +
                     std::to_string(ms) + "ms";
  if (res.status >= 400) {
    std::string why = res.body.substr(0, res.body.find('\n'));
    line += " " + why;
  }
  Log(line);
}

Result<std::unique_ptr<RepositoryServer>> RepositoryServer::Bind(const ServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  while (impl->options.root.size() > 1 && impl->options.root.back() == '/') {
    impl->options.root.pop_back();
  }
  if (!IsDir(impl->options.root)) {
    return Status::NotFound("serve root " + options.root + " is not a folder");
  }
  if (options.tokens_file.empty()) {
    impl->grants = TokenGrants::ReadOnlyForAll();
  } else {
    VREPO_ASSIGN_OR_RETURN(impl->grants, TokenGrants::Load(options.tokens_file));
  }

  std::function<void()> widen;
  VREPO_RETURN_IF_ERROR(impl->MakeHttp(&widen));
  impl->token_failures =
      std::make_unique<TokenFailures>(options.max_token_failures, options.token_failure_window_s);

  httplib::Server& http = *impl->http;
  int threads = std::max(options.threads, 1);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(options.max_request);
  // Long enough for a slow client on a loaded machine; short enough to free the thread of one
  // that went away.
  http.set_read_timeout(60);
  http.set_write_timeout(60);
  http.set_keep_alive_timeout(5);
  // A request whose handler throws (std::bad_alloc) is a 500 for it alone.
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
        std::string why = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          why += std::string(": ") + e.what();
        } catch (...) {
        }
        SetText(res, 500, why);
      });
  Impl* self = impl.get();
  http.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response& res) {
    return self->PreRoute(req, res);
  });
  http.Get(".*", [self](const httplib::Request& req, httplib::Response& res) {
    self->Handle(req, res, nullptr);
  });
  http.Post(".*",
            [self](const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) { self->Handle(req, res, &reader); });
  http.set_logger([self](const httplib::Request& req, const httplib::Response& res) {
    self->LogRequest(req, res);
  });

  if (options.port == 0) {
    impl->port = http.bind_to_any_port(options.host);
    if (impl->port < 0) {
      return Status::IOError("cannot listen on " + options.host + ": " + std::strerror(errno));
    }
  } else {
    if (!http.bind_to_port(options.host, options.port)) {
      return Status::IOError("cannot listen on " + options.host + ":" +
                             std::to_string(options.port) + ": " + std::strerror(errno));
    }
    impl->port = options.port;
  }
  widen();
  return std::unique_ptr<RepositoryServer>(new RepositoryServer(std::move(impl)));
}

int RepositoryServer::port() const { return impl_->port; }

std::string RepositoryServer::url() const {
  std::string host = impl_->options.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(impl_->tls ? "https://" : "http://") + host + ":" +
         std::to_string(impl_->port);
}

Status RepositoryServer::Run() {
  // httplib's stop() does nothing until the listening loop has begun, so a Stop() that comes
  // just before it would be lost: this thread repeats the stop until the loop has ended.
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    {
      std::unique_lock<std::mutex> lock(impl_->mu);
      impl_->stop_requested.wait(lock, [&] { return impl_->stopped.load() || done.load(); });
    }
    while (!done.load()) {
      impl_->http->stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  bool ok = impl_->http->listen_after_bind();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    done.store(true);
  }
  impl_->stop_requested.notify_all();
  stopper.join();
  if (!ok && !impl_->stopped.load()) {
    return Status::IOError("serving on " + url() + " stopped: " + std::strerror(errno));
  }
  return Status::OK();
}

void RepositoryServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopped.store(true);
  }
  impl_->stop_requested.notify_all();
}

}  // namespace vrepo
