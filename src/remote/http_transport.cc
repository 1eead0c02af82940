#include "vrepo/remote/http_transport.h"

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "http_wire.h"

namespace vrepo {
namespace {

// Where an http(s) URL points.
struct Endpoint {
  bool https = false;
  std::string host_port;  // "HOST:PORT" as given (brackets kept for IPv6)
  std::string name;       // repository name on the server
  std::string url;        // the URL without a trailing '/', for messages
};

Result<Endpoint> ParseUrl(const std::string& url) {
  Endpoint e;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    e.https = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Status::InvalidArgument("not an http(s) URL: " + url);
  }
  size_t slash = rest.find('/');
  e.host_port = rest.substr(0, slash);
  if (e.host_port.empty()) return Status::InvalidArgument("no host in URL " + url);
  if (e.host_port.find('@') != std::string::npos) {
    // A secret in a URL ends up in configs and messages; tokens go in VREPO_TOKEN instead.
    return Status::InvalidArgument(
        "credentials in a URL are not supported (set VREPO_TOKEN or `vrepo remote add ... "
        "--token`)");
  }
  if (slash == std::string::npos) {
    return Status::InvalidArgument("URL " + url + " names no repository (http://HOST:PORT/NAME)");
  }
  e.name = rest.substr(slash + 1);
  while (!e.name.empty() && e.name.back() == '/') e.name.pop_back();
  VREPO_RETURN_IF_ERROR(CheckRepositoryName(e.name));
  e.url = std::string(e.https ? "https://" : "http://") + e.host_port + "/" + e.name;
  return e;
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

using Clock = std::chrono::steady_clock;

// Ends a request that passes its deadline, by shutting its socket down from another thread:
// httplib's only timeout is per read, so a server trickling a byte at a time would hold a
// request forever.
class Watchdog {
 public:
  explicit Watchdog(std::function<void()> expire) : expire_(std::move(expire)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  // (Re)sets the deadline of the request in progress; `why` says what it bounds.
  void Set(Clock::time_point deadline, std::string why) {
    std::lock_guard<std::mutex> lock(mu_);
    deadline_ = deadline;
    why_ = std::move(why);
    cv_.notify_one();
  }
  // Starts a request: no deadline passed yet.
  void Arm(Clock::time_point deadline, std::string why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      expired_.clear();
    }
    Set(deadline, std::move(why));
  }
  void Disarm() { Set(Clock::time_point::max(), ""); }
  // What the deadline that ended the last request bounded; "" when none did.
  std::string expired() {
    std::lock_guard<std::mutex> lock(mu_);
    return expired_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!quit_) {
      if (deadline_ == Clock::time_point::max()) {
        cv_.wait(lock);
      } else if (Clock::now() >= deadline_) {
        expired_ = why_;
        deadline_ = Clock::time_point::max();
        // Under the lock, so that the request it ends is the one that set the deadline.
        expire_();
      } else {
        cv_.wait_until(lock, deadline_);
      }
    }
  }

  std::function<void()> expire_;
  std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string why_, expired_;
  bool quit_ = false;
  std::thread thread_;
};

class HttpTransport : public Transport {
 public:
  HttpTransport(Endpoint endpoint, TransportOptions options)
      : endpoint_(std::move(endpoint)), options_(std::move(options)) {
    std::string base = (endpoint_.https ? "https://" : "http://") + endpoint_.host_port;
    client_ = std::make_unique<httplib::Client>(base);
    client_->set_connection_timeout(options_.connect_timeout_s);
    // Per read or write; the watchdog holds the whole request to its deadlines.
    client_->set_read_timeout(options_.answer_timeout_s);
    client_->set_write_timeout(options_.stall_timeout_s);
    client_->set_keep_alive(true);
    // vrepo serve never compresses; a compressed answer could only be a bomb.
    client_->set_decompress(false);
    if (!options_.token.empty()) client_->set_bearer_token_auth(options_.token);
    if (endpoint_.https) {
      client_->enable_server_certificate_verification(true);
      if (!options_.ca_file.empty()) client_->set_ca_cert_path(options_.ca_file.c_str());
    }
  }

  std::string Describe() const override { return endpoint_.url; }

  Result<RefListing> ListRefs() override {
    httplib::Headers headers;
    VREPO_ASSIGN_OR_RETURN(std::string body, Get("/refs", options_.max_listing_bytes, &headers));
    auto checked_out = headers.find(kCheckedOutHeader);
    return ParseRefListing(body, endpoint_.url,
                           checked_out == headers.end() ? "" : checked_out->second);
  }

  Result<std::vector<ContentId>> MissingObjects(const std::vector<ContentId>& ids) override {
    if (ids.empty()) return std::vector<ContentId>{};
    std::string request = FormatIdList(ids);
    VREPO_ASSIGN_OR_RETURN(std::string body,
                           Post("/objects/missing", request, false, options_.max_listing_bytes));
    VREPO_ASSIGN_OR_RETURN(std::vector<ContentId> missing, ParseIdList(body, endpoint_.url));
    // Only ids we asked about may come back; anything else is a confused server.
    std::unordered_set<ContentId, ContentIdHash> asked(ids.begin(), ids.end());
    for (const ContentId& id : missing) {
      if (!asked.count(id)) {
        return Status::Corruption(endpoint_.url + " reported object " + id.Hex() +
                                  " missing, which was not asked about");
      }
    }
    return missing;
  }

  Result<std::string> ReadObjects(const std::vector<ContentId>& ids) override {
    // The batch is verified object by object where it is written (WriteObjects).
    return Post("/objects/read", FormatIdList(ids), false, options_.max_answer_bytes);
  }

  Result<uint64_t> WriteObjects(std::string_view batch) override {
    VREPO_ASSIGN_OR_RETURN(std::string body,
                           Post("/objects/write", batch, true, options_.max_listing_bytes));
    std::string line = FirstLine(body);
    constexpr std::string_view kStored = "stored ";
    if (line.rfind(kStored, 0) == 0 && line.size() > kStored.size() &&
        line.find_first_not_of("0123456789", kStored.size()) == std::string::npos &&
        line.size() - kStored.size() <= 19) {
      return std::stoull(line.substr(kStored.size()));
    }
    return Status::Corruption(endpoint_.url + " answered an object write with '" + line +
                              "' instead of `stored N`");
  }

  Result<std::string> ReadHistory(const std::vector<std::string>& wants,
                                  const std::vector<std::string>& haves) override {
    return Post("/history/read", FormatHistoryRequest(wants, haves), false,
                options_.max_answer_bytes);
  }

  Status WriteHistory(std::string_view git_pack) override {
    return ExpectOk("history write",
                    Post("/history/write", git_pack, true, options_.max_listing_bytes));
  }

  Status UpdateRefs(const std::vector<RefUpdate>& updates) override {
    return ExpectOk("ref update", Post("/refs/update", FormatRefUpdates(updates), true,
                                       options_.max_listing_bytes));
  }

  Result<std::unique_ptr<Transport>> Connect() const override {
    std::unique_ptr<Transport> t = std::make_unique<HttpTransport>(endpoint_, options_);
    return t;
  }

 private:
  Result<std::string> Get(const std::string& op, uint64_t limit,
                          httplib::Headers* headers = nullptr) {
    httplib::Request req;
    req.method = "GET";
    return Send(req, op, false, limit, headers);
  }

  Result<std::string> Post(const std::string& op, std::string_view body, bool write,
                           uint64_t limit) {
    httplib::Request req;
    req.method = "POST";
    req.body.assign(body);
    req.set_header("Content-Type", "application/octet-stream");
    return Send(req, op, write, limit);
  }

  // Sends `req` to OP and reads at most `limit` bytes of answer, within the deadlines;
  // `headers`, when given, receives the answer's headers.
  Result<std::string> Send(httplib::Request& req, const std::string& op, bool write, uint64_t limit,
                           httplib::Headers* headers = nullptr) {
    req.path = Path(op);
    std::string body;
    Clock::time_point body_start;
    bool too_big = false;
    const auto stall = std::chrono::seconds(options_.stall_timeout_s);
    const std::string seconds = std::to_string(options_.stall_timeout_s) + " s";
    req.response_handler = [&](const httplib::Response& res) {
      too_big = std::strtoull(res.get_header_value("Content-Length").c_str(), nullptr, 10) > limit;
      if (headers) *headers = res.headers;
      body_start = Clock::now();
      watchdog_.Set(body_start + stall, "the answer stalled for " + seconds);
      return !too_big;
    };
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      if (body.size() + size > limit) {
        too_big = true;
        return false;
      }
      body.append(data, size);
      // A pause of a stall's time ends it, and so does an average under min_rate once a
      // stall's time has passed.
      auto stalled = Clock::now() + stall;
      auto slow =
          body_start + stall +
          std::chrono::milliseconds(body.size() * 1000 / std::max<uint64_t>(options_.min_rate, 1));
      if (slow < stalled) {
        watchdog_.Set(
            slow, "the answer came slower than " + std::to_string(options_.min_rate) + " bytes/s");
      } else {
        watchdog_.Set(stalled, "the answer stalled for " + seconds);
      }
      return true;
    };
    watchdog_.Arm(Clock::now() + std::chrono::seconds(options_.answer_timeout_s),
                  "no answer within " + std::to_string(options_.answer_timeout_s) + " s");
    httplib::Result r = client_->send(req);
    watchdog_.Disarm();
    if (std::string expired = watchdog_.expired(); !expired.empty()) {
      return Status::IOError(endpoint_.url + ": " + expired);
    }
    if (too_big) {
      return Status::IOError(endpoint_.url + ": answer to " + req.method + " " + op +
                             " is over the limit of " + std::to_string(limit) + " bytes");
    }
    if (r) r->body = std::move(body);
    return Answer(r, write);
  }

  std::string Path(const std::string& op) const { return "/" + endpoint_.name + op; }

  Status ExpectOk(const std::string& what, const Result<std::string>& body) {
    if (!body.ok()) return body.status();
    if (FirstLine(*body) != "ok") {
      return Status::Corruption(endpoint_.url + " answered a " + what + " with '" +
                                FirstLine(*body) + "' instead of `ok`");
    }
    return Status::OK();
  }

  // The body of a 200 answer, or the error it stands for.
  Result<std::string> Answer(httplib::Result& r, bool write) {
    const std::string& url = endpoint_.url;
    if (!r) {
      switch (r.error()) {
        case httplib::Error::Connection:
          return Status::IOError("cannot connect to " + endpoint_.host_port + " for " + url +
                                 " (connection refused or timed out; is `vrepo serve` running?)");
        case httplib::Error::SSLConnection:
          return Status::IOError("TLS handshake with " + endpoint_.host_port +
                                 " failed (is the server serving https?)");
        case httplib::Error::SSLServerVerification:
          return Status::IOError("the certificate of " + endpoint_.host_port +
                                 " is not trusted (set VREPO_CA_FILE or the remote's cafile to "
                                 "its CA certificate)");
        case httplib::Error::SSLLoadingCerts:
          return Status::IOError(
              "cannot load CA certificates" +
              (options_.ca_file.empty() ? std::string() : " from " + options_.ca_file));
        case httplib::Error::Read:
          return Status::IOError("connection to " + url + " broke while reading its answer");
        case httplib::Error::Write:
          return Status::IOError("connection to " + url + " broke while sending a request");
        default:
          return Status::IOError("request to " + url + " failed: " + httplib::to_string(r.error()));
      }
    }
    int code = r->status;
    if (code == 200) return std::move(r->body);
    if (code == 401) {
      return Status::InvalidArgument(
          "authentication required for " + url +
          (options_.token.empty() ? "" : " (the token was not accepted)") +
          " (set VREPO_TOKEN or `vrepo remote add ... --token`)");
    }
    if (code == 403) {
      return Status::InvalidArgument("token has no " + std::string(write ? "write" : "read") +
                                     " access to " + url);
    }
    std::string message = FirstLine(r->body);
    if (r->has_header(kErrorCodeHeader)) {
      return StatusFromError(r->get_header_value(kErrorCodeHeader), message);
    }
    if (code == 413) {
      return Status::InvalidArgument(url + ": " + message +
                                     " (the server's `vrepo serve --max-request`)");
    }
    if (code == 404) {
      return Status::NotFound(url + ": " + (message.empty() ? "not found" : message) +
                              " (is it a `vrepo serve`?)");
    }
    return Status::IOError(url + ": HTTP " + std::to_string(code) + ": " + message);
  }

  Endpoint endpoint_;
  TransportOptions options_;
  std::unique_ptr<httplib::Client> client_;
  Watchdog watchdog_{[this] { client_->stop(); }};
};

// OpenSSL writes to sockets with plain write(), so a server that hangs up would kill the
// process with SIGPIPE instead of failing the request. Left alone when someone set a handler.
void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

Result<std::unique_ptr<Transport>> OpenHttpTransport(const std::string& url,
                                                     const TransportOptions& options) {
  VREPO_ASSIGN_OR_RETURN(Endpoint endpoint, ParseUrl(url));
  IgnoreSigpipe();
  std::unique_ptr<Transport> t = std::make_unique<HttpTransport>(endpoint, options);
  return t;
}

}  // namespace vrepo
