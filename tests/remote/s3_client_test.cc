// The S3 client (vrepo/remote/s3_client.h) against a real radosgw on 127.0.0.1, started by the
// suite's `s3` fixture (tests/s3/s3_server.sh), whose env file names the endpoint and keys.
// Retries are checked against a local listener that answers with server faults on purpose,
// which a healthy radosgw cannot be made to do.
#include "vrepo/remote/s3_client.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "must.h"
#include "remote/s3_support.h"
#include "testing.h"

namespace vrepo {
namespace {

TEST_CASE("s3 client puts, gets, heads, ranges and deletes an object on radosgw") {
  auto settings = FreshBucket();
  if (!settings) return;
  S3Client client(*settings);
  const std::string key = "dir/a b+\xc3\xa9&x.bin";
  std::string bytes = testing::RandomBytes(1000, 7);
  bytes[10] = '\0';

  auto etag = client.Put(key, bytes);
  REQUIRE_MESSAGE(etag.ok(), etag.status().ToString());
  CHECK_FALSE(etag->empty());
  CHECK(etag->find('"') == std::string::npos);

  auto head = client.Head(key);
  REQUIRE_MESSAGE(head.ok(), head.status().ToString());
  CHECK(head->size == 1000);
  CHECK(head->etag == *etag);

  auto whole = client.Get(key);
  REQUIRE_MESSAGE(whole.ok(), whole.status().ToString());
  CHECK(*whole == bytes);
  auto middle = client.Get(key, 7, 20);
  REQUIRE(middle.ok());
  CHECK(*middle == bytes.substr(7, 20));
  auto tail = client.Get(key, 990);
  REQUIRE(tail.ok());
  CHECK(*tail == bytes.substr(990));

  REQUIRE(client.Delete(key).ok());
  auto gone = client.Get(key);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().code() == Status::Code::kNotFound);
  CHECK(gone.status().message().find("GET " + settings->bucket + "/dir/a b") != std::string::npos);
  CHECK(gone.status().message().find("404 NoSuchKey") != std::string::npos);
  auto head_gone = client.Head(key);
  REQUIRE_FALSE(head_gone.ok());
  CHECK(head_gone.status().code() == Status::Code::kNotFound);
}

TEST_CASE("s3 client stores empty objects and bodies large enough for Expect: 100-continue") {
  auto settings = FreshBucket();
  if (!settings) return;
  S3Client client(*settings);
  REQUIRE(client.Put("empty", "").ok());
  auto empty = client.Get("empty");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  // Over curl's 1 MiB threshold, where it asks the server to confirm before sending the body.
  const std::string big = testing::RandomBytes(3 << 20, 11);
  auto etag = client.Put("big", big);
  REQUIRE_MESSAGE(etag.ok(), etag.status().ToString());
  auto back = client.Get("big");
  REQUIRE(back.ok());
  CHECK(*back == big);
  auto slice = client.Get("big", (2 << 20) + 5, 100);
  REQUIRE(slice.ok());
  CHECK(*slice == big.substr((2 << 20) + 5, 100));
}

TEST_CASE("s3 client lists every key under a prefix across pages") {
  auto settings = FreshBucket();
  if (!settings) return;
  S3ClientOptions options;
  options.list_page_size = 2;
  S3Client client(*settings, options);
  std::map<std::string, std::string> etags;
  for (const std::string key : {"p/e", "p/a", "p/c", "p/b", "p/d <&>\"'"}) {
    auto etag = client.Put(key, key + "-bytes");
    REQUIRE(etag.ok());
    etags[key] = *etag;
  }
  REQUIRE(client.Put("q/outside", "x").ok());

  auto listed = client.List("p/");
  REQUIRE_MESSAGE(listed.ok(), listed.status().ToString());
  REQUIRE(listed->size() == 5);
  auto expected = etags.begin();
  for (const S3ObjectInfo& object : *listed) {
    CHECK(object.key == expected->first);
    CHECK(object.etag == expected->second);
    CHECK(object.size == expected->first.size() + 6);
    ++expected;
  }
  auto none = client.List("nothing/");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("s3 client keeps its keys under the remote's prefix") {
  auto settings = FreshBucket("team/data");
  if (!settings) return;
  S3Client prefixed(*settings);
  REQUIRE(prefixed.Put("refs/heads/main", "x").ok());
  S3Settings root = *settings;
  root.prefix.clear();
  S3Client whole(root);
  auto all = whole.List("");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK(all->front().key == "team/data/refs/heads/main");
  auto mine = prefixed.List("refs/");
  REQUIRE(mine.ok());
  REQUIRE(mine->size() == 1);
  CHECK(mine->front().key == "refs/heads/main");
}

TEST_CASE("s3 client conditional writes: create once, replace only the ETag seen") {
  auto settings = FreshBucket();
  if (!settings) return;
  S3Client client(*settings);
  auto first = client.Put("refs/heads/main", "one", S3Condition::Absent());
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  auto again = client.Put("refs/heads/main", "two", S3Condition::Absent());
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Status::Code::kConflict);
  CHECK(again.status().message().find("412") != std::string::npos);

  auto second = client.Put("refs/heads/main", "two", S3Condition::Matches(*first));
  REQUIRE_MESSAGE(second.ok(), second.status().ToString());
  auto stale = client.Put("refs/heads/main", "three", S3Condition::Matches(*first));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().code() == Status::Code::kConflict);
  auto now = client.Get("refs/heads/main");
  REQUIRE(now.ok());
  CHECK(*now == "two");
}

TEST_CASE("s3 client with a wrong secret fails in one line that holds no secret") {
  auto settings = FreshBucket();
  if (!settings) return;
  S3Settings wrong = *settings;
  wrong.secret_key = "wrongSecretValue0123456789";
  S3Client client(wrong);
  auto put = client.Put("k", "x");
  REQUIRE_FALSE(put.ok());
  CHECK(put.status().code() == Status::Code::kIOError);
  const std::string& message = put.status().message();
  CHECK(message.find("PUT " + settings->bucket + "/k: HTTP 403") != std::string::npos);
  CHECK(message.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(message.find(wrong.secret_key) == std::string::npos);
  CHECK(message.find(settings->secret_key) == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

// Answers each request with the next status of `script` (the last one repeats).
class FaultyListener {
 public:
  explicit FaultyListener(std::vector<int> script) : script_(std::move(script)) {
    server_.Put(".*", [this](const httplib::Request&, httplib::Response& res) {
      const size_t n = requests_++;
      res.status = script_[std::min(n, script_.size() - 1)];
      if (res.status == 200) {
        res.set_header("ETag", "\"e\"");
      } else {
        res.set_content("<Error><Code>Injected" + std::to_string(res.status) + "</Code></Error>",
                        "application/xml");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~FaultyListener() {
    server_.stop();
    thread_.join();
  }
  S3Settings Settings() const {
    S3Settings settings;
    settings.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    settings.bucket = "bucket";
    settings.access_key = "K";
    settings.secret_key = "s";
    return settings;
  }
  size_t requests() const { return requests_; }

 private:
  std::vector<int> script_;
  std::atomic<size_t> requests_{0};
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_CASE("s3 client refuses an answer longer than its limit, holding no more of it") {
  auto settings = FreshBucket();
  if (!settings) return;
  S3Client writer(*settings);
  testing::Must(writer.Put("big", testing::RandomBytes(5000, 3)));
  S3ClientOptions options;
  options.max_answer_bytes = 1000;
  S3Client reader(*settings, options);
  auto got = reader.Get("big");
  REQUIRE_FALSE(got.ok());
  CHECK(got.status().message() ==
        "S3 GET " + settings->bucket + "/big: the answer is over 1000 bytes");
  CHECK(testing::Must(reader.Get("big", 10, 900)).size() == 900);
}

TEST_CASE("s3 client retries 5xx and 429 with backoff, and never other 4xx") {
  S3ClientOptions options;
  options.first_backoff = std::chrono::milliseconds(1);
  options.max_attempts = 4;
  {
    FaultyListener listener({503, 500, 429, 200});
    S3Client client(listener.Settings(), options);
    auto put = client.Put("k", "x");
    REQUIRE_MESSAGE(put.ok(), put.status().ToString());
    CHECK(*put == "e");
    CHECK(listener.requests() == 4);
  }
  {
    FaultyListener listener({400});
    S3Client client(listener.Settings(), options);
    auto put = client.Put("k", "x");
    REQUIRE_FALSE(put.ok());
    CHECK(put.status().message() == "S3 PUT bucket/k: HTTP 400 Injected400");
    CHECK(listener.requests() == 1);
  }
  {
    FaultyListener listener({503});
    S3Client client(listener.Settings(), options);
    auto put = client.Put("k", "x");
    REQUIRE_FALSE(put.ok());
    CHECK(put.status().message() == "S3 PUT bucket/k: HTTP 503 Injected503 (after 4 attempts)");
    CHECK(listener.requests() == 4);
  }
}

}  // namespace
}  // namespace vrepo
