// The shape of one signed S3 request as libcurl sends it: URL with a canonical query, the
// headers S3 needs, and curl's own SigV4 signing set up around what curl 7.88 gets wrong.
// Private to src/remote/; the client and the signing test both go through PrepareS3Curl.
// Plain functions; a CURL handle and its S3HeaderList belong to one thread.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo {

struct S3SigningKey {
  std::string region;
  std::string service = "s3";
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // sent as x-amz-security-token when set
};

struct S3HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST or DELETE
  std::string origin;  // "http://127.0.0.1:7480"
  std::string path;    // already URI-encoded (S3UriEncode), starting with '/'
  // Decoded names and values, in any order; an empty value is written "name=".
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> headers;  // extra "Name: value" lines, all signed
  std::string_view body;             // must outlive the transfer
  // S3 refuses a request without x-amz-content-sha256; the generic SigV4 test suite has none.
  bool content_sha256 = true;
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, the rest %XX in
// upper case; '/' kept when `keep_slash` (paths), encoded otherwise (query parts).
std::string S3UriEncode(std::string_view text, bool keep_slash);

// "a=1&b=&c=3": encoded and sorted by name, then value. curl 7.88 signs the query as written
// (curl#9717) and drops the '=' of valueless names, so the URL carries this form already.
std::string S3CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// Owns the curl_slist of one request's headers.
class S3HeaderList {
 public:
  S3HeaderList() = default;
  ~S3HeaderList() { curl_slist_free_all(list_); }
  S3HeaderList(const S3HeaderList&) = delete;
  S3HeaderList& operator=(const S3HeaderList&) = delete;
  // False when curl could not allocate.
  bool Append(const std::string& line);
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Sets on `curl` (fresh or curl_easy_reset) the URL, method, body, headers and SigV4
// credentials of `request`. `headers` must outlive the transfer. curl makes X-Amz-Date itself
// unless `request.headers` carries one (the signing test fixes the date that way).
Status PrepareS3Curl(CURL* curl, const S3SigningKey& key, const S3HttpRequest& request,
                     S3HeaderList* headers);

}  // namespace vrepo
