#include "vrepo/store/content_id.h"

#include <doctest/doctest.h>

namespace vrepo {

TEST_CASE("content ids are the SHA-256 of the bytes") {
  CHECK(ContentId::Of("abc").Hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ContentId::Of("").Hex() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("incremental hashing gives the same id and the hasher can be reused") {
  Sha256 h;
  h.Update("a");
  h.Update("");
  h.Update("bc");
  CHECK(h.Finish() == ContentId::Of("abc"));
  h.Update("abc");
  CHECK(h.Finish() == ContentId::Of("abc"));
}

TEST_CASE("hex and raw forms round-trip, malformed ids are rejected") {
  ContentId id = ContentId::Of("abc");
  auto parsed = ContentId::FromHex(id.Hex());
  REQUIRE(parsed.ok());
  CHECK(*parsed == id);
  auto upper =
      ContentId::FromHex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  REQUIRE(upper.ok());
  CHECK(*upper == id);
  auto raw = ContentId::FromRaw(id.Raw());
  REQUIRE(raw.ok());
  CHECK(*raw == id);

  CHECK(ContentId::FromHex("abc").status().code() == Status::Code::kInvalidArgument);
  std::string bad = id.Hex();
  bad[10] = 'g';
  CHECK(ContentId::FromHex(bad).status().code() == Status::Code::kInvalidArgument);
  CHECK(ContentId::FromRaw("short").status().code() == Status::Code::kCorruption);
}

}  // namespace vrepo
