#include "s3_request.h"

#include <algorithm>

#include "vrepo/store/content_id.h"

namespace vrepo {

std::string S3UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHexDigits[byte >> 4]);
      out.push_back(kHexDigits[byte & 0xF]);
    }
  }
  return out;
}

std::string S3CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(S3UriEncode(name, false), S3UriEncode(value, false));
  }
  // SigV4 sorts by the encoded bytes.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

bool S3HeaderList::Append(const std::string& line) {
  curl_slist* grown = curl_slist_append(list_, line.c_str());
  if (grown == nullptr) return false;
  list_ = grown;
  return true;
}

Status PrepareS3Curl(CURL* curl, const S3SigningKey& key, const S3HttpRequest& request,
                     S3HeaderList* headers) {
  std::string url = request.origin + request.path;
  const std::string query = S3CanonicalQuery(request.query);
  if (!query.empty()) url += "?" + query;

  bool ok = true;
  for (const std::string& line : request.headers) ok = ok && headers->Append(line);
  if (request.content_sha256) {
    ok = ok && headers->Append("x-amz-content-sha256: " + ContentId::Of(request.body).Hex());
  }
  if (!key.session_token.empty()) {
    ok = ok && headers->Append("x-amz-security-token: " + key.session_token);
  }
  if (!ok) return Status::IOError("S3 " + request.method + " " + request.path + ": out of memory");

  const std::string sigv4 = "aws:amz:" + key.region + ":" + key.service;
  CURLcode rc = curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  // Separate user name and password: a ':' in a secret would split CURLOPT_USERPWD wrongly.
  if (rc == CURLE_OK) rc = curl_easy_setopt(curl, CURLOPT_USERNAME, key.access_key.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(curl, CURLOPT_PASSWORD, key.secret_key.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers->get());
  if (rc == CURLE_OK) {
    if (request.method == "GET") {
      rc = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      rc = curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "DELETE") {
      rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      // The body goes as POSTFIELDS because curl 7.88 hashes exactly those into the
      // signature; a read callback would be signed as an empty payload.
      rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                            static_cast<curl_off_t>(request.body.size()));
      if (rc == CURLE_OK) {
        rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                              request.body.empty() ? "" : request.body.data());
      }
      if (rc == CURLE_OK && request.method != "POST") {
        rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      }
    }
  }
  if (rc != CURLE_OK) {
    return Status::IOError("S3 " + request.method + " " + request.path +
                           ": libcurl refused an option: " + curl_easy_strerror(rc));
  }
  return Status::OK();
}

}  // namespace vrepo
