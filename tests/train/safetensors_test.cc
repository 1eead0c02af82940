#include "vrepo/train/safetensors.h"

#include <doctest/doctest.h>
#include <torch/nn.h>

#include <cstring>

#include "testing.h"

namespace vrepo::train {
namespace {

using vrepo::testing::TempDir;
using vrepo::testing::WriteFile;

// A safetensors file from a header text and data bytes, without any checks.
std::string RawFile(const std::string& header, const std::string& data) {
  uint64_t len = header.size();
  std::string out(reinterpret_cast<const char*>(&len), 8);
  return out + header + data;
}

// Expects that loading `bytes` fails with Corruption naming the file and containing `why`.
void ExpectCorrupt(const TempDir& dir, const std::string& bytes, const std::string& why) {
  std::string path = dir / "bad.safetensors";
  WriteFile(path, bytes);
  auto r = ReadSafetensors(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kCorruption);
  CHECK(r.status().message().find(path) != std::string::npos);
  CHECK_MESSAGE(r.status().message().find(why) != std::string::npos, r.status().message());
  CHECK(r.status().message().find('\n') == std::string::npos);
}

TEST_CASE("safetensors: every dtype round-trips with its metadata") {
  TempDir dir;
  torch::manual_seed(1);
  TensorMap in;
  in["f32"] = torch::randn({3, 4});
  in["f64"] = torch::randn({2}, torch::kFloat64);
  in["f16"] = torch::randn({5, 1}).to(torch::kFloat16);
  in["bf16"] = torch::randn({7}).to(torch::kBFloat16);
  in["i64"] = torch::arange(6, torch::kInt64).reshape({2, 3});
  in["i32"] = torch::arange(-3, 3, torch::kInt32);
  in["u8"] = torch::arange(250, 256, torch::kInt32).to(torch::kUInt8);
  in["scalar"] = torch::tensor(2.5);
  in["empty"] = torch::zeros({0, 3});
  in["strided"] = torch::randn({4, 3}).t();  // not contiguous: written as its values
  std::string path = dir / "w.safetensors";
  REQUIRE(WriteSafetensors(path, in, {{"format", "pt"}, {"run", "abc"}}).ok());

  auto out = ReadSafetensors(path);
  REQUIRE_MESSAGE(out.ok(), out.status().ToString());
  CHECK(out->metadata == std::map<std::string, std::string>{{"format", "pt"}, {"run", "abc"}});
  REQUIRE(out->tensors.size() == in.size());
  for (const auto& [name, t] : in) {
    const auto& got = out->tensors.at(name);
    CHECK_MESSAGE((got.scalar_type() == t.scalar_type()), name);
    CHECK_MESSAGE(got.sizes() == t.sizes(), name);
    CHECK_MESSAGE(torch::equal(got, t), name);
  }
}

TEST_CASE("safetensors: header is sorted, space-padded to 8 bytes, data in name order") {
  TensorMap in;
  in["b"] = torch::ones({1}, torch::kUInt8);
  in["a"] = torch::full({1}, 7, torch::kUInt8);
  auto bytes = SerializeSafetensors(in);
  REQUIRE(bytes.ok());
  uint64_t len;
  std::memcpy(&len, bytes->data(), 8);
  CHECK(len % 8 == 0);
  std::string header = bytes->substr(8, len);
  CHECK(header.rfind(R"({"a":{"data_offsets":[0,1],"dtype":"U8","shape":[1]},"b":)", 0) == 0);
  CHECK(header.find("__metadata__") == std::string::npos);  // omitted when empty
  CHECK(header.back() == ' ');
  CHECK(bytes->substr(8 + len) == std::string("\x07\x01", 2));
  // Same tensors, same bytes: weights files get stable content ids.
  CHECK(*SerializeSafetensors(in) == *bytes);
}

TEST_CASE("safetensors: corrupt files fail with one line naming the file and the problem") {
  TempDir dir;
  const std::string f32x2 = R"("dtype":"F32","shape":[2])";
  const std::string data8(8, '\0');
  ExpectCorrupt(dir, "abc", "too short");
  ExpectCorrupt(dir, RawFile("{}", "").substr(0, 8), "header length 2 goes beyond the file size 8");
  std::string huge = RawFile("{}", "");
  huge[5] = 1;  // a length in the terabytes
  ExpectCorrupt(dir, huge, "header length 1099511627778 is above the limit of 104857600 bytes");
  std::string beyond = RawFile("{}", "");
  beyond[1] = 1;  // 258 bytes, within the limit, beyond the file
  ExpectCorrupt(dir, beyond, "header length 258 goes beyond the file size 10");
  ExpectCorrupt(dir, RawFile(R"({"a": {)", ""), "not valid JSON");
  ExpectCorrupt(dir, RawFile("[1,2]", ""), "not a JSON object");
  ExpectCorrupt(dir, RawFile(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", "ab"),
                "tensor 'a': unknown dtype 'F8'");
  ExpectCorrupt(dir, RawFile(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,16]}})", data8),
                "tensor 'a': data_offsets end 16 is beyond the 8 data bytes");
  ExpectCorrupt(dir, RawFile(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,4]}})", data8),
                "tensor 'a': data_offsets span 4 bytes but F32 [2] needs 8");
  ExpectCorrupt(dir, RawFile(R"({"a":{)" + f32x2 + R"(,"data_offsets":[8,0]}})", data8),
                "run backwards");
  ExpectCorrupt(dir, RawFile(R"({"a":{)" + f32x2 + R"(,"data_offsets":[-1,7]}})", data8),
                "not a pair of non-negative integers");
  ExpectCorrupt(dir, RawFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8),
                "shape holds something other than a size");
  ExpectCorrupt(dir,
                RawFile(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                            R"(,"data_offsets":[4,12]}})",
                        std::string(12, '\0')),
                "tensors 'a' and 'b' overlap");
  ExpectCorrupt(dir,
                RawFile(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"a":{)" + f32x2 +
                            R"(,"data_offsets":[8,16]}})",
                        std::string(16, '\0')),
                "names tensor 'a' twice");
  ExpectCorrupt(dir, RawFile(R"({"__metadata__":{"k":1}})", ""), "metadata 'k' is not a string");
  // Hostile headers: 100 MiB of '[' is refused by its depth before the parser spends
  // gigabytes on it, and a length over 100 MiB by the length alone.
  ExpectCorrupt(dir, RawFile(std::string(1 << 20, '['), ""),
                "safetensors header nests deeper than 16 levels (at byte 24)");
  std::string over = RawFile("{}", "");
  uint64_t len = kMaxSafetensorsHeader + 1;
  std::memcpy(over.data(), &len, 8);
  ExpectCorrupt(dir, over, "header length 104857601 is above the limit of 104857600 bytes");
  // Sizes whose byte count wraps around 2^64 to the span given (here 0): 2^61 F64 elements,
  // and 2^32 x 2^32 bytes.
  ExpectCorrupt(dir,
                RawFile(R"({"a":{"dtype":"F64","shape":[2305843009213693952],)"
                        R"("data_offsets":[0,0]}})",
                        ""),
                "tensor 'a': shape [2305843009213693952] is larger than the file");
  ExpectCorrupt(dir,
                RawFile(R"({"a":{"dtype":"I8","shape":[4294967296,4294967296],)"
                        R"("data_offsets":[0,0]}})",
                        ""),
                "tensor 'a': shape [4294967296,4294967296] is larger than the file");

  // Empty tensors may have any other sizes, even when the file has no data at all.
  auto empty = ParseSafetensors(
      RawFile(R"({"e":{"dtype":"F32","shape":[5,0,4294967296],"data_offsets":[0,0]}})", ""), "e");
  REQUIRE_MESSAGE(empty.ok(), empty.status().ToString());
  CHECK(empty->tensors.at("e").sizes() == torch::IntArrayRef{5, 0, 4294967296});

  // A good file cut short loses the end of its last tensor.
  TensorMap t;
  t["w"] = torch::ones({16});
  auto good = SerializeSafetensors(t);
  REQUIRE(good.ok());
  ExpectCorrupt(dir, good->substr(0, good->size() - 3), "tensor 'w': data_offsets end 64");
}

TEST_CASE("safetensors: a missing file is an IO error naming it") {
  TempDir dir;
  auto r = ReadSafetensors(dir / "nope.safetensors");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("nope.safetensors") != std::string::npos);
}

torch::nn::Sequential SmallNet() {
  return torch::nn::Sequential(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
}

TEST_CASE("safetensors: a state dict loads into a module, buffers included") {
  torch::manual_seed(2);
  auto src = SmallNet();
  {
    torch::NoGradGuard g;
    src->named_buffers()["1.running_mean"].uniform_();
  }
  auto bytes = SerializeSafetensors(StateDict(*src));
  REQUIRE(bytes.ok());
  auto file = ParseSafetensors(*bytes, "mem");
  REQUIRE(file.ok());
  CHECK(file->tensors.count("1.num_batches_tracked") == 1);

  auto dst = SmallNet();
  REQUIRE(LoadStateDict(*dst, file->tensors, "mem").ok());
  for (const auto& [name, t] : StateDict(*src)) {
    CHECK_MESSAGE(torch::equal(StateDict(*dst).at(name), t), name);
  }

  // Half-precision weights convert into a float model.
  TensorMap half = file->tensors;
  for (auto& [name, t] : half) {
    if (t.is_floating_point()) t = t.to(torch::kFloat16);
  }
  auto dst2 = SmallNet();
  REQUIRE(LoadStateDict(*dst2, half, "half").ok());
  CHECK((dst2->named_parameters()["0.weight"].scalar_type() == torch::kFloat32));
  CHECK(torch::allclose(dst2->named_parameters()["0.weight"], src->named_parameters()["0.weight"],
                        1e-2, 1e-3));
}

TEST_CASE("safetensors: mismatched state dicts are refused with every problem named") {
  auto net = SmallNet();
  TensorMap file = StateDict(*SmallNet());
  file["0.weight"] = torch::zeros({5, 4});
  file.erase("0.bias");
  file["extra.weight"] = torch::zeros({1});
  torch::Tensor before = net->named_parameters()["0.weight"].clone();

  Status s = LoadStateDict(*net, file, "base.safetensors");
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Status::Code::kInvalidArgument);
  const std::string& m = s.message();
  CHECK_MESSAGE(m.find("base.safetensors") == 0, m);
  CHECK_MESSAGE(m.find("shape mismatch for '0.weight': file has [5, 4], model has [3, 4]") !=
                    std::string::npos,
                m);
  CHECK_MESSAGE(m.find("missing from the file: '0.bias'") != std::string::npos, m);
  CHECK_MESSAGE(m.find("not in the model: 'extra.weight'") != std::string::npos, m);
  // Nothing was half-loaded.
  CHECK(torch::equal(net->named_parameters()["0.weight"], before));

  // Skipping a prefix ignores those names on both sides (a replaced head).
  LoadStateOptions skip_extra;
  skip_extra.skip_prefixes = {"extra."};
  file["0.weight"] = torch::ones({3, 4});
  file["0.bias"] = torch::ones({3});
  CHECK(LoadStateDict(*net, file, "f", skip_extra).ok());
  CHECK(torch::equal(net->named_parameters()["0.weight"], torch::ones({3, 4})));

  // I32 bytes are not float weights: a dtype that is not the model's is refused, while F16
  // into an F32 model only changes precision and loads.
  TensorMap ints = StateDict(*SmallNet());
  ints["0.weight"] = torch::zeros({3, 4}, torch::kInt32);
  Status wrong = LoadStateDict(*net, ints, "ints.safetensors");
  REQUIRE_FALSE(wrong.ok());
  CHECK_MESSAGE(
      wrong.message().find("dtype mismatch for '0.weight': file has I32, model has F32") !=
          std::string::npos,
      wrong.message());
  TensorMap halves = StateDict(*SmallNet());
  for (auto& [name, t] : halves) {
    if (t.is_floating_point()) t = t.to(torch::kFloat16);
  }
  CHECK(LoadStateDict(*net, halves, "halves.safetensors").ok());

  LoadStateOptions skip_layer0;
  skip_layer0.skip_prefixes = {"0.", "extra."};
  file.erase("0.weight");
  file.erase("0.bias");
  CHECK(LoadStateDict(*net, file, "f", skip_layer0).ok());
}

}  // namespace
}  // namespace vrepo::train
