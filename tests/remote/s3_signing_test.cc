// The S3 request shape (src/remote/s3_request.h) against AWS's published SigV4 test vectors
// (aws-sig-v4-test-suite: AKIDEXAMPLE, us-east-1, service "service", 20150830T123600Z), read
// from what libcurl really sends to a listener on 127.0.0.1.
#include <doctest/doctest.h>
#include <httplib.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "s3_request.h"

namespace vrepo {
namespace {

// Records the headers of every request it gets; answers 200 with an empty body.
class SigningListener {
 public:
  SigningListener() {
    auto record = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req.headers);
      res.status = 200;
    };
    server_.Get(".*", record);
    server_.Post(".*", record);
    server_.Put(".*", record);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port has bound already; listen_after_bind only starts accepting.
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~SigningListener() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  // The value of header `name` in the last request ("" when absent).
  std::string LastHeader(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (requests_.empty()) return "";
    const auto it = requests_.back().find(name);
    return it == requests_.back().end() ? "" : it->second;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<httplib::Headers> requests_;
  int port_ = 0;
};

const S3SigningKey kSuiteKey{"us-east-1", "service", "AKIDEXAMPLE",
                             "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const std::string kSuiteScope =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

// Sends `request` as the suite's host example.amazonaws.com (routed to the listener) at the
// suite's date, and returns the Authorization header the listener saw.
std::string SignedAuthorization(SigningListener& listener, S3HttpRequest request,
                                const S3SigningKey& key = kSuiteKey) {
  request.origin = "http://example.amazonaws.com";
  request.headers.emplace_back("X-Amz-Date: 20150830T123600Z");
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  S3HeaderList headers;
  REQUIRE(PrepareS3Curl(curl, key, request, &headers).ok());
  const std::string route = "example.amazonaws.com:80:127.0.0.1:" + std::to_string(listener.port());
  curl_slist* connect_to = curl_slist_append(nullptr, route.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(connect_to);
  curl_easy_cleanup(curl);
  REQUIRE(rc == CURLE_OK);
  return listener.LastHeader("Authorization");
}

S3HttpRequest SuiteRequest(const std::string& method, const std::string& path) {
  S3HttpRequest request;
  request.method = method;
  request.path = path;
  request.content_sha256 = false;  // the generic suite signs only host and x-amz-date
  return request;
}

TEST_CASE("s3 signing matches the SigV4 suite's get-vanilla") {
  SigningListener listener;
  CHECK(SignedAuthorization(listener, SuiteRequest("GET", "/")) ==
        kSuiteScope +
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST_CASE("s3 signing matches the SigV4 suite's post-vanilla") {
  SigningListener listener;
  CHECK(SignedAuthorization(listener, SuiteRequest("POST", "/")) ==
        kSuiteScope +
            "SignedHeaders=host;x-amz-date, "
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST_CASE("s3 signing sorts the query: the suite's get-vanilla-query-order-key-case") {
  // curl 7.88 signs the query in the order written (curl#9717); given unsorted, it signs
  // Param2 first and the server computes another signature.
  SigningListener listener;
  S3HttpRequest request = SuiteRequest("GET", "/");
  request.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  CHECK(SignedAuthorization(listener, request) ==
        kSuiteScope +
            "SignedHeaders=host;x-amz-date, "
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST_CASE("s3 signing keeps unreserved path characters: the suite's get-unreserved") {
  SigningListener listener;
  const std::string path =
      "/" + S3UriEncode("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", true);
  CHECK(SignedAuthorization(listener, SuiteRequest("GET", path)) ==
        kSuiteScope +
            "SignedHeaders=host;x-amz-date, "
            "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
}

TEST_CASE("s3 canonical query writes valueless names with '=' and encodes reserved bytes") {
  CHECK(S3CanonicalQuery({{"uploads", ""}}) == "uploads=");
  CHECK(S3CanonicalQuery({{"prefix", "a b/c+d"}, {"list-type", "2"}}) ==
        "list-type=2&prefix=a%20b%2Fc%2Bd");
  CHECK(S3UriEncode("dir/file name+1.png", true) == "dir/file%20name%2B1.png");
  CHECK(S3UriEncode("\xc3\xa9", true) == "%C3%A9");
}

TEST_CASE("s3 requests carry the payload's SHA-256 and the session token, both signed") {
  SigningListener listener;
  S3HttpRequest request;
  request.method = "PUT";
  request.path = "/bucket/key";
  request.body = "abc";
  S3SigningKey key = kSuiteKey;
  key.session_token = "session-token-value";
  const std::string authorization = SignedAuthorization(listener, request, key);
  CHECK(listener.LastHeader("x-amz-content-sha256") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(listener.LastHeader("x-amz-security-token") == "session-token-value");
  CHECK(authorization.find("x-amz-content-sha256;") != std::string::npos);
  CHECK(authorization.find("x-amz-security-token") != std::string::npos);
}

}  // namespace
}  // namespace vrepo
