// S3Client: the object operations of an S3-compatible store (AWS S3, MinIO, Ceph RGW) over
// libcurl with AWS SigV4 signing, for the S3 transport. One client holds one connection
// (a curl handle) and is not thread-safe: use one client per thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/remote/s3_settings.h"
#include "vrepo/util/status.h"

namespace vrepo {

// Totals of the requests of every client that shares them (thread-safe).
struct S3Counters {
  std::atomic<uint64_t> requests{0};  // retries included
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> bytes_received{0};
};

struct S3ClientOptions {
  // Attempts per request; 5xx, 429, timeouts and broken connections are retried, other 4xx
  // never.
  int max_attempts = 5;
  // Wait before the first retry, doubled for each next one (jittered).
  std::chrono::milliseconds first_backoff{200};
  std::chrono::seconds connect_timeout{10};
  // A transfer slower than 1 KiB/s for this long counts as a timeout.
  std::chrono::seconds stall_timeout{30};
  // max-keys of each ListObjectsV2 page (S3 caps it at 1000).
  int list_page_size = 1000;
  // The longest answer body taken; a longer one fails the request (a store cannot make a
  // client hold more than this per request).
  uint64_t max_answer_bytes = 2048ull << 20;
  // When set, every request is counted here.
  std::shared_ptr<S3Counters> counters;
};

// A write condition: how a Put may replace what is there.
struct S3Condition {
  enum class Kind { kNone, kIfNoneMatch, kIfMatch };
  Kind kind = Kind::kNone;
  std::string etag;  // for kIfMatch, unquoted

  static S3Condition None() { return {}; }
  // Only if the key does not exist yet (If-None-Match: *).
  static S3Condition Absent() { return {Kind::kIfNoneMatch, ""}; }
  // Only if the object's ETag is still `etag` (If-Match).
  static S3Condition Matches(std::string etag) { return {Kind::kIfMatch, std::move(etag)}; }
};

struct S3ObjectInfo {
  std::string key;  // relative to the settings' prefix
  uint64_t size = 0;
  std::string etag;  // unquoted
};

// One part of a multipart upload.
struct S3Part {
  int number = 0;
  std::string etag;  // unquoted; for a plain upload, the hex MD5 of the part
  uint64_t size = 0;
};

// The ETag S3 gives a part uploaded without server-side encryption: the hex MD5 of its bytes,
// by which an unfinished upload's parts are recognized.
std::string S3PartETag(std::string_view part);

// Errors: NotFound for 404 (no such key or bucket); Conflict for 412, a failed condition;
// IOError for every other failure, one line naming the method, bucket/key, HTTP status and
// the S3 error code. ETags are given and taken without quotes (radosgw matches If-Match only
// against the unquoted form).
class S3Client {
 public:
  explicit S3Client(S3Settings settings, S3ClientOptions options = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Settings& settings() const { return settings_; }

  // Stores `bytes` at `key` if `condition` holds; returns the new ETag.
  Result<std::string> Put(const std::string& key, std::string_view bytes,
                          const S3Condition& condition = S3Condition::None());
  // The object's bytes, or only `length` bytes from `offset` when a range is given. `etag`,
  // when given, receives the ETag of the version read (for a later If-Match).
  Result<std::string> Get(const std::string& key, std::optional<uint64_t> offset = std::nullopt,
                          std::optional<uint64_t> length = std::nullopt,
                          std::string* etag = nullptr);
  // Size and ETag of the object.
  Result<S3ObjectInfo> Head(const std::string& key);
  // Removes the object; OK when it was already gone (S3 answers 204 either way).
  Status Delete(const std::string& key);
  // Every object whose key starts with `prefix`, in key order, following continuation tokens.
  Result<std::vector<S3ObjectInfo>> List(const std::string& prefix);
  // Creates the bucket; OK when this account already owns it.
  Status CreateBucket();

  // Multipart upload, for objects too big for one PUT. Parts are numbered from 1; every part
  // but the last must hold at least 5 MiB (S3's minimum).
  Result<std::string> CreateMultipartUpload(const std::string& key);  // the upload id
  // Sends one part with its Content-MD5, so the store refuses a part damaged on the way;
  // returns the part's ETag.
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id, int number,
                                 std::string_view bytes);
  // Joins the parts (number, ETag), in number order, into the object.
  Status CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                 const std::vector<S3Part>& parts);
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id);
  // Ids of the uploads begun on exactly `key` and neither completed nor aborted.
  Result<std::vector<std::string>> ListMultipartUploads(const std::string& key);
  // The parts an upload holds so far, in number order.
  Result<std::vector<S3Part>> ListParts(const std::string& key, const std::string& upload_id);

 private:
  struct Impl;
  S3Settings settings_;
  S3ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo
