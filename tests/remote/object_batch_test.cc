#include "vrepo/remote/object_batch.h"

#include <doctest/doctest.h>
#include <zstd.h>

#include "must.h"
#include "testing.h"

namespace vrepo::testing {
namespace {

StoredRecord Raw(const std::string& data) {
  return {ContentId::Of(data), ObjectLocation::Codec::kRaw, data.size(), data, {}};
}

StoredRecord Zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 1));
  return {ContentId::Of(data), ObjectLocation::Codec::kZstd, data.size(), out, {}};
}

const ChunkSource kNoStore = [](const ContentId& id) -> Result<std::string> {
  return Status::NotFound(id.Hex());
};

std::string Error(std::string_view batch) {
  auto decoded = DecodeObjectBatch(batch, kNoStore);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().code() == Status::Code::kCorruption);
  return decoded.status().message();
}

TEST_CASE("a batch of raw, zstd and chunked records decodes to the same objects") {
  std::string a = "alpha", b(5000, 'b'), c1 = RandomBytes(3000, 1), c2 = RandomBytes(2000, 2);
  StoredRecord list{ContentId::Of(c1 + c2),
                    ObjectLocation::Codec::kChunked,
                    5000,
                    "",
                    {{ContentId::Of(c1), 3000}, {ContentId::Of(c2), 2000}}};
  std::string batch = EncodeObjectBatch({Raw(a), Zstd(b), Raw(c1), Raw(c2), list});
  auto records = Must(DecodeObjectBatch(batch, kNoStore));
  REQUIRE(records.size() == 5);
  CHECK(Must(DecodeRecordBytes(records[0])) == a);
  CHECK(Must(DecodeRecordBytes(records[1])) == b);
  CHECK(records[1].stored.size() < 100);  // travels compressed, as stored
  CHECK(records[4].chunks.size() == 2);
  CHECK(Must(DecodeObjectBatch(EncodeObjectBatch({}), kNoStore)).empty());

  // A chunk list whose chunks are elsewhere takes them from the chunk source.
  std::string lone = EncodeObjectBatch({list});
  CHECK(Error(lone).find("chunk " + ContentId::Of(c1).Hex() + " is missing") != std::string::npos);
  ChunkSource store = [&](const ContentId& id) -> Result<std::string> {
    if (id == ContentId::Of(c1)) return c1;
    if (id == ContentId::Of(c2)) return c2;
    return Status::NotFound(id.Hex());
  };
  CHECK(Must(DecodeObjectBatch(lone, store)).size() == 1);
}

TEST_CASE("altered, truncated or malformed batches are refused, naming the object or offset") {
  std::string data(4000, 'z');
  ContentId id = ContentId::Of(data);
  std::string zbatch = EncodeObjectBatch({Zstd(data)});
  std::string raw = EncodeObjectBatch({Raw("some bytes")});
  ContentId raw_id = ContentId::Of("some bytes");

  std::string altered = raw;
  altered.back() ^= 1;
  CHECK(Error(altered) == "object batch: object " + raw_id.Hex() +
                              " (byte offset 8): bytes do not match the object's id");
  std::string zaltered = zbatch;
  zaltered[zaltered.size() - 4] ^= 0x55;
  CHECK(Error(zaltered).find("object " + id.Hex()) != std::string::npos);

  CHECK(Error(raw.substr(0, raw.size() - 1)) ==
        "object batch: object " + raw_id.Hex() +
            " (byte offset 8): 10 stored bytes run past the end (9 left)");
  CHECK(Error(raw.substr(0, 20)) == "object batch: at byte offset 8: record 0 of 1 is truncated");
  CHECK(Error(raw.substr(0, 5)) == "object batch: at byte offset 0: truncated header");
  CHECK(Error("VRB2" + raw.substr(4)).find("not an object batch") != std::string::npos);
  CHECK(Error(raw + "x") == "object batch: at byte offset " + std::to_string(raw.size()) +
                                ": 1 bytes after the last record");

  std::string bad_codec = raw;
  bad_codec[8 + 32] = 9;
  CHECK(Error(bad_codec).find("unknown codec 9") != std::string::npos);

  // A forged size is refuted without allocating it.
  std::string huge = zbatch;
  for (int i = 0; i < 8; ++i) huge[8 + 33 + i] = i == 5 ? 1 : 0;  // raw size 2^40
  CHECK(Error(huge).find("implausible size") != std::string::npos);
  std::string longer = zbatch;
  longer[8 + 33] = static_cast<char>(static_cast<uint8_t>(longer[8 + 33]) + 1);  // 4001 bytes
  CHECK(Error(longer).find("decompresses to 4000 bytes, not 4001") != std::string::npos);

  std::string count = raw;
  count[4] = count[5] = count[6] = count[7] = '\xff';
  CHECK(Error(count).find("record 1 of 4294967295 is truncated") != std::string::npos);

  StoredRecord list{ContentId::Of("ab"),
                    ObjectLocation::Codec::kChunked,
                    3,
                    "",
                    {{ContentId::Of("a"), 1}, {ContentId::Of("b"), 1}}};
  CHECK(Error(EncodeObjectBatch({list})).find("chunk sizes do not add up") != std::string::npos);
  list.raw_size = 2;
  CHECK(Error(EncodeObjectBatch({Raw("a"), Raw("c"), list}))
            .find("chunk " + ContentId::Of("b").Hex()) != std::string::npos);
}

}  // namespace
}  // namespace vrepo::testing
