// EvalTransform against Debian's torchvision 0.14 (transforms_reference.py) on odd-sized RGB,
// gray, RGBA, CMYK and YCbCr images, and the train transform's determinism and shapes.
#include "vrepo/train/transforms.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "must.h"
#include "testing.h"
#include "train/reference_python.h"
#include "vrepo/train/safetensors.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;
using vrepo::testing::Must;
using vrepo::testing::ReferencePython;
using vrepo::testing::SkipWithoutTorchvision;

DecodedImage Decode(const std::string& path) {
  return Must(DecodeImage(testing::ReadFileOrDie(path), path));
}

TEST_CASE("transforms: the eval transform equals torchvision's Resize, CenterCrop, Normalize") {
  if (SkipWithoutTorchvision()) return;
  testing::TempDir dir;
  std::string script = std::string(VREPO_SOURCE_DIR) + "/tests/train/transforms_reference.py";
  std::string cmd = ReferencePython() + " " + script + " " + dir.path();
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
  SafetensorsFile ref = Must(ReadSafetensors(dir / "reference.safetensors"));
  json cases = json::parse(ref.metadata.at("cases"));
  REQUIRE(cases.size() == 14);
  for (const json& c : cases) {
    const std::string name = c["name"];
    INFO(name);
    Preprocessing p = Must(PreprocessingFromJson(c["preprocessing"], name));
    torch::Tensor got = Must(EvalTransform(Decode(dir / c["file"].get<std::string>()), p, name));
    const torch::Tensor& want = ref.tensors.at(name);
    REQUIRE(got.sizes() == want.sizes());
    CHECK(got.sizes() == torch::IntArrayRef{p.channels, p.crop, p.crop});
    CHECK(got.is_contiguous());
    // Same decoders (libspng/libpng agree; PIL and vrepo share libjpeg-turbo), PIL's luma and
    // CMYK formulas, the same interpolate kernel: the difference is zero in practice.
    const float diff = (got - want).abs().max().item<float>();
    CHECK_MESSAGE(diff <= 1e-5f, "max abs difference " << diff);
  }
}

DecodedImage Gradient(uint32_t width, uint32_t height, uint32_t channels) {
  DecodedImage img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.pixels.resize(size_t{width} * height * channels);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    img.pixels[i] = static_cast<uint8_t>((i * 7 + i / (width * channels) * 13) % 256);
  }
  return img;
}

Preprocessing Small() {
  Preprocessing p;
  p.resize = 37;
  p.crop = 32;
  return p;
}

TEST_CASE("transforms: the train transform is a function of the stream seed") {
  const DecodedImage img = Gradient(61, 45, 3);
  const Preprocessing p = Small();
  const TrainAugment both{true, true};
  std::set<std::vector<float>> distinct;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    torch::Tensor a = Must(TrainTransform(img, p, both, seed, "img"));
    torch::Tensor b = Must(TrainTransform(img, p, both, seed, "img"));
    CHECK(a.sizes() == torch::IntArrayRef{3, 32, 32});
    CHECK(torch::equal(a, b));
    distinct.insert(std::vector<float>(a.data_ptr<float>(), a.data_ptr<float>() + a.numel()));
  }
  CHECK(distinct.size() == 8);  // each seed its own crop

  // Without augmentation it is the eval transform.
  torch::Tensor eval = Must(EvalTransform(img, p, "img"));
  CHECK(torch::equal(Must(TrainTransform(img, p, TrainAugment{}, 3, "img")), eval));

  // Flip alone: the eval image or its mirror, both within a few seeds.
  int flipped = 0, kept = 0;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    torch::Tensor t = Must(TrainTransform(img, p, TrainAugment{false, true}, seed, "img"));
    if (torch::equal(t, eval)) ++kept;
    if (torch::equal(t, eval.flip({2}))) ++flipped;
  }
  CHECK(kept + flipped == 16);
  CHECK(kept > 0);
  CHECK(flipped > 0);
}

TEST_CASE("transforms: random-resized-crop gives crop x crop from any shape and channels") {
  Preprocessing gray;
  gray.resize = gray.crop = 28;
  gray.mean = gray.std = {0.5};
  gray.channels = 1;
  // A strip too thin for any of the ten random tries falls back to the centre crop.
  for (const auto& [w, h, c] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
           {200, 1, 3}, {1, 200, 1}, {5, 3, 3}, {300, 260, 1}}) {
    INFO(w << "x" << h << "x" << c);
    const DecodedImage img = Gradient(w, h, c);
    for (const Preprocessing& p : {Small(), gray}) {
      torch::Tensor t = Must(TrainTransform(img, p, TrainAugment{true, true}, w * 31 + h, "img"));
      CHECK(t.sizes() == torch::IntArrayRef{p.channels, p.crop, p.crop});
      CHECK(Must(EvalTransform(img, p, "img")).sizes() == t.sizes());
    }
  }
}

TEST_CASE("transforms: gray is repeated to RGB and colour taken to PIL's luma") {
  DecodedImage gray = Gradient(8, 6, 1);
  Preprocessing p;
  p.resize = 6;
  p.crop = 6;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  torch::Tensor rgb = Must(EvalTransform(gray, p, "gray"));
  CHECK(torch::equal(rgb[0], rgb[1]));
  CHECK(torch::equal(rgb[0], rgb[2]));
  DecodedImage colour;
  colour.width = 1;
  colour.height = 1;
  colour.channels = 3;
  colour.pixels = {200, 100, 7};
  Preprocessing one;
  one.resize = one.crop = 1;
  one.mean = {0};
  one.std = {1};
  one.channels = 1;
  // PIL: (200 * 19595 + 100 * 38470 + 7 * 7471 + 32768) >> 16 = 119.
  CHECK(Must(EvalTransform(colour, one, "c")).item<float>() == 119.0f / 255.0f);
}

TEST_CASE("transforms: bad input is one line naming the image") {
  DecodedImage img = Gradient(4, 4, 3);
  Preprocessing p = Small();
  p.mean = {0.5};
  Status st = EvalTransform(img, p, "a.png").status();
  CHECK(st.message() == "a.png: preprocessing mean and std need 3 values each");
  img.pixels.pop_back();
  st = TrainTransform(img, Small(), TrainAugment{}, 0, "b.png").status();
  CHECK(st.message() == "b.png: decoded image has an inconsistent size");
  // A strip whose resize would need 4096 x 40 million pixels.
  DecodedImage strip = Gradient(10000, 1, 1);
  Preprocessing big;
  big.resize = 4096;
  st = EvalTransform(strip, big, "strip.png").status();
  CHECK(st.message().rfind("strip.png: 10000x1 resized to a shorter side of 4096", 0) == 0);
}

}  // namespace
}  // namespace vrepo::train
