#include "vrepo/remote/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <random>
#include <thread>

#include "s3_request.h"
#include "s3_xml.h"

namespace vrepo {

namespace {

// curl_global_init is not thread-safe before curl 7.84; doing it once, early, keeps every
// later curl_easy_init from racing into it.
const bool kS3CurlReady = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;

struct S3Response {
  long status = 0;
  std::string body;
  uint64_t max_body = 0;  // a longer answer is cut off: a hostile store could send forever
  bool too_big = false;
  std::string etag;
  std::optional<uint64_t> content_length;
};

size_t S3WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<S3Response*>(user);
  if (response->body.size() + size * count > response->max_body) {
    response->too_big = true;
    return 0;  // curl stops the transfer
  }
  response->body.append(data, size * count);
  return size * count;
}

size_t S3ReadHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<S3Response*>(user);
  std::string_view line(data, size * count);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after a 100 Continue): forget the headers of the one before.
    response->etag.clear();
    response->content_length.reset();
    return size * count;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  if (name == "etag") {
    response->etag = UnquoteETag(value);
  } else if (name == "content-length") {
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec == std::errc() && end == value.data() + value.size()) response->content_length = n;
  }
  return size * count;
}

bool S3RetryableCurlError(CURLcode rc) {
  return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR ||
         rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE;
}

// Printable, one line, bounded: S3 messages come from the server.
std::string S3OneLine(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
  }
  return out;
}

// "scheme://authority" and the path after it, from an endpoint URL.
void SplitS3Endpoint(const std::string& endpoint, std::string* origin, std::string* path) {
  const size_t scheme_end = endpoint.find("://");
  const size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t slash = endpoint.find('/', authority);
  *origin = endpoint.substr(0, slash);
  *path = slash == std::string::npos ? "" : endpoint.substr(slash);
  while (!path->empty() && path->back() == '/') path->pop_back();
}

}  // namespace

struct S3Client::Impl {
  CURL* curl = nullptr;
  std::string origin;       // where requests go: "http://host:port" or "https://BUCKET.host"
  std::string bucket_path;  // path of the bucket itself: "/BUCKET" or "" (virtual host)
  std::mt19937 jitter{std::random_device{}()};

  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
  // One request with retries. `what` names it in errors ("PUT bucket/key").
  Result<S3Response> Perform(const S3Settings& settings, const S3ClientOptions& options,
                             const std::string& what, const S3HttpRequest& request);
};

S3Client::S3Client(S3Settings settings, S3ClientOptions options)
    : settings_(std::move(settings)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>()) {
  (void)kS3CurlReady;
  impl_->curl = curl_easy_init();
  std::string endpoint = settings_.endpoint;
  if (endpoint.empty()) endpoint = "https://s3." + settings_.region + ".amazonaws.com";
  std::string base_path;
  SplitS3Endpoint(endpoint, &impl_->origin, &base_path);
  const std::string bucket = S3UriEncode(settings_.bucket, false);
  if (settings_.path_style) {
    impl_->bucket_path = base_path + "/" + bucket;
  } else {
    const size_t authority = impl_->origin.find("://");
    const size_t at = authority == std::string::npos ? 0 : authority + 3;
    impl_->origin.insert(at, bucket + ".");
    impl_->bucket_path = base_path;
  }
}

S3Client::~S3Client() = default;

namespace {

std::string S3FullKey(const S3Settings& settings, const std::string& key) {
  return settings.prefix.empty() ? key : settings.prefix + "/" + key;
}

}  // namespace

Result<S3Response> S3Client::Impl::Perform(const S3Settings& settings,
                                           const S3ClientOptions& options, const std::string& what,
                                           const S3HttpRequest& request) {
  Impl* const impl = this;
  if (impl->curl == nullptr) return Status::IOError("S3 " + what + ": libcurl failed to start");
  S3SigningKey key{settings.region, "s3", settings.access_key, settings.secret_key,
                   settings.session_token};
  std::string last_problem;
  const int attempts = std::max(1, options.max_attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      const auto base = options.first_backoff * (1LL << std::min(attempt - 2, 10));
      std::uniform_int_distribution<long long> half(base.count() / 2, base.count());
      std::this_thread::sleep_for(std::chrono::milliseconds(half(impl->jitter)));
    }
    curl_easy_reset(impl->curl);
    S3HeaderList headers;
    VREPO_RETURN_IF_ERROR(PrepareS3Curl(impl->curl, key, request, &headers));
    S3Response response;
    response.max_body = options.max_answer_bytes;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(impl->curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(impl->curl, CURLOPT_WRITEFUNCTION, S3WriteBody);
    curl_easy_setopt(impl->curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(impl->curl, CURLOPT_HEADERFUNCTION, S3ReadHeader);
    curl_easy_setopt(impl->curl, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(impl->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(impl->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count() * 1000));
    curl_easy_setopt(impl->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(impl->curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options.stall_timeout.count()));
    const CURLcode rc = curl_easy_perform(impl->curl);
    if (options.counters) {
      options.counters->requests += 1;
      options.counters->bytes_sent += request.body.size();
      options.counters->bytes_received += response.body.size();
    }
    if (response.too_big) {
      return Status::IOError("S3 " + what + ": the answer is over " +
                             std::to_string(options.max_answer_bytes) + " bytes");
    }
    if (rc != CURLE_OK) {
      last_problem = error_buffer[0] != '\0' ? S3OneLine(error_buffer) : curl_easy_strerror(rc);
      if (S3RetryableCurlError(rc)) continue;
      return Status::IOError("S3 " + what + ": " + last_problem);
    }
    curl_easy_getinfo(impl->curl, CURLINFO_RESPONSE_CODE, &response.status);
    if (response.status >= 200 && response.status < 300) return response;
    std::string code;
    std::string message;
    if (!response.body.empty()) {
      auto error = ParseS3Error(response.body, "S3 " + what);
      if (error.ok()) {
        code = S3OneLine(error->code);
        message = S3OneLine(error->message);
      }
    }
    last_problem = "HTTP " + std::to_string(response.status) + (code.empty() ? "" : " " + code) +
                   (message.empty() ? "" : ": " + message);
    if (response.status >= 500 || response.status == 429) continue;
    const std::string line = "S3 " + what + ": " + last_problem;
    if (response.status == 404) return Status::NotFound(line);
    if (response.status == 412 || code == "ConditionalRequestConflict") {
      return Status::Conflict(line);
    }
    return Status::IOError(line);
  }
  return Status::IOError("S3 " + what + ": " + last_problem + " (after " +
                         std::to_string(attempts) + " attempts)");
}

namespace {

S3HttpRequest S3ObjectRequest(const std::string& method, const std::string& origin,
                              const std::string& bucket_path, const std::string& full_key) {
  S3HttpRequest request;
  request.method = method;
  request.origin = origin;
  request.path = bucket_path + "/" + S3UriEncode(full_key, true);
  return request;
}

}  // namespace

Result<std::string> S3Client::Put(const std::string& key, std::string_view bytes,
                                  const S3Condition& condition) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("PUT", impl_->origin, impl_->bucket_path, full);
  request.body = bytes;
  request.headers.emplace_back("Content-Type: application/octet-stream");
  if (condition.kind == S3Condition::Kind::kIfNoneMatch) {
    request.headers.emplace_back("If-None-Match: *");
  } else if (condition.kind == S3Condition::Kind::kIfMatch) {
    request.headers.push_back("If-Match: " + condition.etag);
  }
  const std::string what = "PUT " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  if (response.etag.empty()) return Status::IOError("S3 " + what + ": no ETag in the answer");
  return response.etag;
}

Result<std::string> S3Client::Get(const std::string& key, std::optional<uint64_t> offset,
                                  std::optional<uint64_t> length, std::string* etag) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("GET", impl_->origin, impl_->bucket_path, full);
  const bool ranged = offset.has_value() || length.has_value();
  const uint64_t first = offset.value_or(0);
  if (length.has_value() && *length == 0) return std::string();
  if (ranged) {
    request.headers.push_back("Range: bytes=" + std::to_string(first) + "-" +
                              (length ? std::to_string(first + *length - 1) : ""));
  }
  const std::string what = "GET " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  if (etag != nullptr) *etag = response.etag;
  if (ranged && response.status == 200) {
    // A server that ignores Range sends everything; cut the range out here.
    if (first > response.body.size()) return std::string();
    return response.body.substr(first, length.value_or(std::string::npos));
  }
  return std::move(response.body);
}

Result<S3ObjectInfo> S3Client::Head(const std::string& key) {
  const std::string full = S3FullKey(settings_, key);
  const S3HttpRequest request = S3ObjectRequest("HEAD", impl_->origin, impl_->bucket_path, full);
  const std::string what = "HEAD " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  if (!response.content_length) {
    return Status::IOError("S3 " + what + ": no Content-Length in the answer");
  }
  return S3ObjectInfo{key, *response.content_length, response.etag};
}

Status S3Client::Delete(const std::string& key) {
  const std::string full = S3FullKey(settings_, key);
  const S3HttpRequest request = S3ObjectRequest("DELETE", impl_->origin, impl_->bucket_path, full);
  const std::string what = "DELETE " + settings_.bucket + "/" + full;
  auto response = impl_->Perform(settings_, options_, what, request);
  return response.ok() ? Status::OK() : response.status();
}

Result<std::vector<S3ObjectInfo>> S3Client::List(const std::string& prefix) {
  const std::string own = settings_.prefix.empty() ? "" : settings_.prefix + "/";
  const std::string full_prefix = own + prefix;
  std::vector<S3ObjectInfo> objects;
  std::string token;
  const std::string what = "LIST " + settings_.bucket + "/" + full_prefix;
  for (;;) {
    S3HttpRequest request;
    request.method = "GET";
    request.origin = impl_->origin;
    request.path = impl_->bucket_path.empty() ? "/" : impl_->bucket_path;
    request.query = {{"list-type", "2"},
                     {"prefix", full_prefix},
                     {"max-keys", std::to_string(options_.list_page_size)}};
    if (!token.empty()) request.query.emplace_back("continuation-token", token);
    VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
    VREPO_ASSIGN_OR_RETURN(S3ListPage page, ParseS3ListPage(response.body, "S3 " + what));
    for (S3ListedObject& object : page.objects) {
      if (object.key.compare(0, own.size(), own) != 0) {
        return Status::Corruption("S3 " + what + ": the listing holds a key outside the prefix");
      }
      objects.push_back({object.key.substr(own.size()), object.size, std::move(object.etag)});
    }
    if (!page.truncated) break;
    if (page.next_token == token) {
      return Status::Corruption("S3 " + what + ": the listing repeats its continuation token");
    }
    token = page.next_token;
  }
  return objects;
}

Status S3Client::CreateBucket() {
  S3HttpRequest request;
  request.method = "PUT";
  request.origin = impl_->origin;
  request.path = impl_->bucket_path.empty() ? "/" : impl_->bucket_path;
  std::string body;
  // AWS wants the region named for every region but its first; other stores (Ceph, MinIO)
  // read it as their own zone group names, which differ, so it goes to AWS only.
  if (settings_.endpoint.empty() && settings_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        settings_.region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  request.body = body;
  const std::string what = "CREATE BUCKET " + settings_.bucket;
  auto response = impl_->Perform(settings_, options_, what, request);
  if (!response.ok() &&
      response.status().message().find("BucketAlreadyOwnedByYou") != std::string::npos) {
    return Status::OK();
  }
  return response.ok() ? Status::OK() : response.status();
}

namespace {

// The 16 bytes of the MD5 of `bytes`.
std::string S3Md5(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

// Base64 of the MD5 of `bytes`, as Content-MD5 wants it.
std::string S3ContentMd5(std::string_view bytes) {
  const std::string digest = S3Md5(bytes);
  unsigned char encoded[64];
  const int n = EVP_EncodeBlock(encoded, reinterpret_cast<const unsigned char*>(digest.data()),
                                static_cast<int>(digest.size()));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

}  // namespace

std::string S3PartETag(std::string_view part) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : S3Md5(part)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& key) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("POST", impl_->origin, impl_->bucket_path, full);
  request.query = {{"uploads", ""}};
  request.headers.emplace_back("Content-Type: application/octet-stream");
  const std::string what = "CREATE MULTIPART " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  return ParseS3UploadId(response.body, "S3 " + what);
}

Result<std::string> S3Client::UploadPart(const std::string& key, const std::string& upload_id,
                                         int number, std::string_view bytes) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("PUT", impl_->origin, impl_->bucket_path, full);
  request.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
  request.body = bytes;
  request.headers.push_back("Content-MD5: " + S3ContentMd5(bytes));
  const std::string what =
      "PUT " + settings_.bucket + "/" + full + " part " + std::to_string(number);
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  if (response.etag.empty()) return Status::IOError("S3 " + what + ": no ETag in the answer");
  return response.etag;
}

Status S3Client::CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                         const std::vector<S3Part>& parts) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("POST", impl_->origin, impl_->bucket_path, full);
  request.query = {{"uploadId", upload_id}};
  std::string body = "<CompleteMultipartUpload>";
  for (const S3Part& part : parts) {
    body += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>\"" +
            part.etag + "\"</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  request.body = body;
  const std::string what = "COMPLETE MULTIPART " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  // S3 may answer 200 and still fail, with an <Error> body.
  auto error = ParseS3Error(response.body, "S3 " + what);
  if (error.ok()) {
    return Status::IOError("S3 " + what + ": " + S3OneLine(error->code) + ": " +
                           S3OneLine(error->message));
  }
  return Status::OK();
}

Status S3Client::AbortMultipartUpload(const std::string& key, const std::string& upload_id) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("DELETE", impl_->origin, impl_->bucket_path, full);
  request.query = {{"uploadId", upload_id}};
  const std::string what = "ABORT MULTIPART " + settings_.bucket + "/" + full;
  auto response = impl_->Perform(settings_, options_, what, request);
  return response.ok() ? Status::OK() : response.status();
}

Result<std::vector<std::string>> S3Client::ListMultipartUploads(const std::string& key) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request;
  request.method = "GET";
  request.origin = impl_->origin;
  request.path = impl_->bucket_path.empty() ? "/" : impl_->bucket_path;
  request.query = {{"uploads", ""}, {"prefix", full}};
  const std::string what = "LIST MULTIPART " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  VREPO_ASSIGN_OR_RETURN(std::vector<S3ListedUpload> uploads,
                         ParseS3Uploads(response.body, "S3 " + what));
  std::vector<std::string> ids;
  for (const S3ListedUpload& upload : uploads) {
    if (upload.key == full) ids.push_back(upload.upload_id);
  }
  return ids;
}

Result<std::vector<S3Part>> S3Client::ListParts(const std::string& key,
                                                const std::string& upload_id) {
  const std::string full = S3FullKey(settings_, key);
  S3HttpRequest request = S3ObjectRequest("GET", impl_->origin, impl_->bucket_path, full);
  request.query = {{"uploadId", upload_id}};
  const std::string what = "LIST PARTS " + settings_.bucket + "/" + full;
  VREPO_ASSIGN_OR_RETURN(S3Response response, impl_->Perform(settings_, options_, what, request));
  VREPO_ASSIGN_OR_RETURN(std::vector<S3ListedPart> listed,
                         ParseS3Parts(response.body, "S3 " + what));
  std::vector<S3Part> parts;
  for (S3ListedPart& part : listed) parts.push_back({part.number, std::move(part.etag), part.size});
  std::sort(parts.begin(), parts.end(),
            [](const S3Part& a, const S3Part& b) { return a.number < b.number; });
  return parts;
}

}  // namespace vrepo
