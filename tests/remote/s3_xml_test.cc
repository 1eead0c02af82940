// The S3 answers' XML reader (src/remote/s3_xml.h): listings and errors as radosgw and AWS
// write them, and corrupt or truncated documents refused with one line naming the request.
#include "s3_xml.h"

#include <doctest/doctest.h>

#include <string>

namespace vrepo {
namespace {

const std::string kListSource = "S3 LIST bucket/p";

const std::string kTwoObjects =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix>p</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>tok&amp;en/=</NextContinuationToken>"
    "<Contents><Key>p/a &amp; b&lt;c&gt;&quot;&apos;&#233;&#x4e2d;</Key>"
    "<LastModified>2026-01-01T00:00:00.000Z</LastModified>"
    "<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>\n"
    "  <Contents><Key><![CDATA[p/<raw>]]></Key><Size>18446744073709551615</Size>"
    "<ETag>\"abc-2\"</ETag></Contents>"
    "<!-- a comment --></ListBucketResult>\n";

TEST_CASE("s3 xml reads a ListObjectsV2 page with entities, CDATA and a continuation token") {
  auto page = ParseS3ListPage(kTwoObjects, kListSource);
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  REQUIRE(page->objects.size() == 2);
  CHECK(page->objects[0].key == "p/a & b<c>\"'\xc3\xa9\xe4\xb8\xad");
  CHECK(page->objects[0].size == 1);
  CHECK(page->objects[0].etag == "0cc175b9c0f1b6a831c399e269772661");
  CHECK(page->objects[1].key == "p/<raw>");
  CHECK(page->objects[1].size == 18446744073709551615ULL);
  CHECK(page->objects[1].etag == "abc-2");
  CHECK(page->truncated);
  CHECK(page->next_token == "tok&en/=");
}

TEST_CASE("s3 xml takes a raw '>' in text, which XML allows") {
  auto page = ParseS3ListPage(
      "<ListBucketResult><Contents><Key>a>b</Key><Size>0</Size></Contents></ListBucketResult>",
      kListSource);
  REQUIRE(page.ok());
  CHECK(page->objects.at(0).key == "a>b");
}

TEST_CASE("s3 xml reads an empty last page") {
  auto page = ParseS3ListPage(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>",
      kListSource);
  REQUIRE(page.ok());
  CHECK(page->objects.empty());
  CHECK_FALSE(page->truncated);
}

TEST_CASE("s3 xml reads an error body") {
  auto error = ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
      "<Message>The key &lt;k&gt; does not exist</Message><RequestId>1</RequestId></Error>",
      "S3 GET b/k");
  REQUIRE(error.ok());
  CHECK(error->code == "NoSuchKey");
  CHECK(error->message == "The key <k> does not exist");
}

TEST_CASE("s3 xml refuses corrupt and truncated documents with one line naming the request") {
  const std::string bad[] = {
      "",
      "   ",
      kTwoObjects.substr(0, kTwoObjects.size() / 2),         // truncated mid-document
      kTwoObjects.substr(0, kTwoObjects.find("&amp;") + 3),  // truncated mid-entity
      "<ListBucketResult><Contents></ListBucketResult>",     // mismatched end tag
      "<ListBucketResult>&bogus;</ListBucketResult>",        // unknown entity
      "<ListBucketResult>&#0;</ListBucketResult>",           // NUL reference
      "<ListBucketResult>&#xD800;</ListBucketResult>",       // surrogate
      "<ListBucketResult>a & b</ListBucketResult>",          // bare ampersand
      "<!DOCTYPE x [<!ENTITY e \"boom\">]><ListBucketResult/>",
      "<ListBucketResult/><ListBucketResult/>",  // two roots
      "<ListBucketResult/>trailing",
      "<ListBucketResult a=b/>",                          // unquoted attribute
      "<ListBucketResult a=\"<\"/>",                      // '<' in an attribute
      "<ListBucketResult><!-- open </ListBucketResult>",  // unterminated comment
      "<ListBucketResult><![CDATA[x</ListBucketResult>",  // unterminated CDATA
      std::string(40, '<') + "a",
  };
  for (const std::string& input : bad) {
    CAPTURE(input);
    auto page = ParseS3ListPage(input, kListSource);
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == Status::Code::kCorruption);
    CHECK(page.status().message().rfind(kListSource + ": ", 0) == 0);
    CHECK(page.status().message().find('\n') == std::string::npos);
  }
}

TEST_CASE("s3 xml refuses nesting deeper than an S3 answer could be") {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  for (int i = 0; i < 100; ++i) deep += "</a>";
  auto xml = ParseXml(deep, "S3 test");
  REQUIRE_FALSE(xml.ok());
  CHECK(xml.status().message().find("nested too deeply") != std::string::npos);
}

TEST_CASE("s3 xml refuses well-formed documents that are not the answer expected") {
  const std::string bad[] = {
      "<Error><Code>X</Code></Error>",  // not a listing
      "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>1x</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents>"
      "</ListBucketResult>",
      "<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",  // no token
  };
  for (const std::string& input : bad) {
    CAPTURE(input);
    auto page = ParseS3ListPage(input, kListSource);
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().message().rfind(kListSource + ": ", 0) == 0);
  }
  CHECK_FALSE(ParseS3Error("<Error><Message>m</Message></Error>", "S3 GET b/k").ok());
  CHECK_FALSE(ParseS3Error("<ListBucketResult/>", "S3 GET b/k").ok());
}

}  // namespace
}  // namespace vrepo
