#include "vrepo/train/loader.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "dataset/png_support.h"
#include "train/train_fixture.h"
#include "vrepo/train/transforms.h"

namespace vrepo::train {
namespace {

using vrepo::testing::Must;
using vrepo::testing::TrainRepo;

const std::vector<std::string> kClasses = {"ankle_boot", "bag",   "coat",    "dress",   "pullover",
                                           "sandal",     "shirt", "sneaker", "trouser", "tshirt"};

// small-cnn's preprocessing: Fashion-MNIST's 28 x 28 gray, so the tests stay cheap.
LoaderOptions Gray28() {
  LoaderOptions o;
  o.preprocessing = Must(DefaultPreprocessing("small-cnn"));
  return o;
}

std::unique_ptr<SampleLoader> MakeLoader(TrainRepo& r, LoaderOptions options) {
  return Must(SampleLoader::Create(r.repo->store(), r.Version().samples, kClasses, options));
}

std::vector<Batch> WholeEpoch(SampleLoader& loader, int epoch) {
  loader.StartEpoch(epoch);
  std::vector<Batch> out;
  while (true) {
    auto b = loader.Next();
    REQUIRE_MESSAGE(b.ok(), b.status().ToString());
    if (!*b) break;
    out.push_back(std::move(**b));
  }
  return out;
}

TEST_CASE("loader: batches are identical whatever the number of workers") {
  TrainRepo r(150);
  LoaderOptions o = Gray28();
  o.batch_size = 16;
  o.flip = o.crop = true;
  o.seed = 7;
  o.workers = 1;
  auto one = WholeEpoch(*MakeLoader(r, o), 1);
  o.workers = 4;
  o.channels_last = true;  // layout must not change values either
  auto four = WholeEpoch(*MakeLoader(r, o), 1);
  REQUIRE(one.size() == 10);  // 9 full batches and one of 6
  REQUIRE(four.size() == one.size());
  CHECK(one.back().images.size(0) == 6);
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i].indices == four[i].indices);
    CHECK(one[i].images.sizes() == torch::IntArrayRef{one[i].images.size(0), 1, 28, 28});
    CHECK(torch::equal(one[i].images, four[i].images.contiguous()));
    CHECK(torch::equal(one[i].targets, four[i].targets));
  }
  // Normalized to [-1, 1].
  CHECK(one[0].images.min().item<float>() >= -1.0f);
  CHECK(one[0].images.max().item<float>() <= 1.0f);
}

TEST_CASE("loader: the order is a permutation that changes with the epoch and the seed") {
  TrainRepo r(60);
  LoaderOptions o = Gray28();
  o.seed = 3;
  auto loader = MakeLoader(r, o);
  auto e0 = loader->EpochOrder(0), e1 = loader->EpochOrder(1);
  CHECK(e0 != e1);
  CHECK(e0 == loader->EpochOrder(0));
  CHECK(std::set<size_t>(e0.begin(), e0.end()).size() == 60);
  o.seed = 4;
  CHECK(MakeLoader(r, o)->EpochOrder(0) != e0);
  o.shuffle = false;
  auto fixed = MakeLoader(r, o)->EpochOrder(5);
  CHECK(std::is_sorted(fixed.begin(), fixed.end()));
  // Batches follow the order.
  o.shuffle = true;
  o.seed = 3;
  o.batch_size = 60;
  auto batches = WholeEpoch(*MakeLoader(r, o), 1);
  CHECK(batches[0].indices == e1);
}

TEST_CASE("loader: the digest of what it read equals the version's sample digest") {
  TrainRepo r(80);
  auto loader = MakeLoader(r, Gray28());
  CHECK(loader->epoch_digest().empty());
  WholeEpoch(*loader, 0);
  CHECK(loader->epoch_digest() == SampleDigestOf(r.Version()));
  CHECK(loader->epoch_digest().size() == 64);
}

TEST_CASE("loader: every image goes through the preprocessing, whatever its size") {
  // The first sample is a 50 x 20 RGB image among 28 x 28 gray ones: nothing is taken from
  // it; every image is resized (shorter side 46), centre-cropped to 40 and made RGB.
  TrainRepo r(10);
  std::vector<uint8_t> rgb(50 * 20 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 37 % 251);
  vrepo::testing::PngSpec spec;
  spec.width = 50;
  spec.height = 20;
  spec.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  auto samples = r.Version().samples;
  auto writer = Must(r.repo->store().NewWriter());
  samples.front().id = Must(writer->Put(vrepo::testing::EncodePng(spec, rgb.data(), rgb.size())));
  REQUIRE(writer->Commit(nullptr).ok());
  LoaderOptions o;
  o.preprocessing = Must(WithImageSize(Must(DefaultPreprocessing("resnet18")), 40));
  REQUIRE(o.preprocessing.resize == 46);
  o.shuffle = false;
  o.channels_last = true;
  auto loader = Must(SampleLoader::Create(r.repo->store(), samples, kClasses, o));
  CHECK(loader->channels() == 3);
  CHECK(loader->height() == 40);
  auto batches = WholeEpoch(*loader, 0);
  REQUIRE(batches[0].images.sizes() == torch::IntArrayRef{10, 3, 40, 40});
  for (size_t i = 0; i < samples.size(); ++i) {
    INFO(samples[i].path);
    DecodedImage img = Must(DecodeImage(Must(r.repo->store().Get(samples[i].id)), "x"));
    CHECK(torch::equal(batches[0].images[i], Must(EvalTransform(img, o.preprocessing, "x"))));
  }
  // Gray made RGB: the three planes are equal before normalization; the colour image's not.
  const Preprocessing& p = o.preprocessing;
  auto plane = [&](int64_t i, int64_t ch) {
    return batches[0].images[i][ch] * p.std[ch] + p.mean[ch];
  };
  CHECK(torch::allclose(plane(1, 0), plane(1, 2), 0, 1e-6));
  CHECK_FALSE(torch::allclose(plane(0, 0), plane(0, 2), 0, 1e-6));
}

TEST_CASE("loader: legacy mode resizes to image_size and converts to RGB, as old runs did") {
  TrainRepo r(10);
  LoaderOptions o;
  o.legacy_preprocessing = true;
  o.image_size = 40;
  o.channels = 3;
  auto batches = WholeEpoch(*MakeLoader(r, o), 0);
  CHECK(batches[0].images.sizes() == torch::IntArrayRef{10, 3, 40, 40});
  // Gray converted to RGB: the three planes are equal.
  CHECK(torch::equal(batches[0].images[0][0], batches[0].images[0][2]));
  // Native size without image_size: the first sample's.
  o.image_size = 0;
  CHECK(WholeEpoch(*MakeLoader(r, o), 0)[0].images.sizes() == torch::IntArrayRef{10, 3, 28, 28});
}

TEST_CASE("loader: a corrupt object is an error naming the sample's path") {
  TrainRepo r(20);
  auto version = r.Version();
  const Sample& victim = version.samples[7];
  std::string image = r.Read(victim.path);
  // Flip one byte of that image inside its pack file.
  bool flipped = false;
  for (const std::string& pack_path :
       vrepo::testing::ListFolder(r.repo->vrepo_dir() + "/objects/packs")) {
    std::string pack = vrepo::testing::ReadFileOrDie(pack_path);
    size_t at = pack.find(image);
    if (at == std::string::npos) continue;
    std::fstream f(pack_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(at + image.size() / 2);
    char c = pack[at + image.size() / 2] ^ 0x5a;
    f.write(&c, 1);
    flipped = true;
  }
  REQUIRE(flipped);
  LoaderOptions o = Gray28();
  o.batch_size = 4;
  auto loader = Must(SampleLoader::Create(r.repo->store(), version.samples, kClasses, o));
  loader->StartEpoch(0);
  Status error;
  while (true) {
    auto b = loader->Next();
    if (!b.ok()) {
      error = b.status();
      break;
    }
    REQUIRE(*b);
  }
  CHECK(error.message().find(victim.path) != std::string::npos);
  CHECK(loader->epoch_digest().empty());
}

TEST_CASE("loader: legacy mode refuses a first image too large for native size, not allocated") {
  // Legacy mode allocates every batch at the first sample's size: a hostile first image must
  // not choose it freely. 5000 x 1 decodes cheaply, yet a batch of those at native size is
  // refused.
  TrainRepo r(4);
  std::vector<uint8_t> row(5000, 128);
  vrepo::testing::PngSpec spec;
  spec.width = 5000;
  spec.height = 1;
  std::string wide = vrepo::testing::EncodePng(spec, row.data(), row.size());
  auto samples = r.Version().samples;
  auto writer = Must(r.repo->store().NewWriter());
  samples.front().id = Must(writer->Put(wide));
  REQUIRE(writer->Commit(nullptr).ok());
  LoaderOptions legacy;
  legacy.legacy_preprocessing = true;
  auto native = SampleLoader::Create(r.repo->store(), samples, kClasses, legacy);
  REQUIRE_FALSE(native.ok());
  CHECK(native.status().message() ==
        samples.front().path +
            ": 5000x1 is too large to train at native size (at most 4096 a side); give an image "
            "size");
  // With an image size it trains, resized; with a pixel limit below it, it is refused.
  LoaderOptions sized = legacy;
  sized.image_size = 28;
  CHECK(SampleLoader::Create(r.repo->store(), samples, kClasses, sized).ok());
  sized.max_image_pixels = 4999;
  auto limited = SampleLoader::Create(r.repo->store(), samples, kClasses, sized);
  REQUIRE_FALSE(limited.ok());
  CHECK_MESSAGE(limited.status().message().find("5000x1 image exceeds the limit of 4999 pixels") !=
                    std::string::npos,
                limited.status().message());
}

TEST_CASE("loader: a label outside the classes is refused") {
  TrainRepo r(5);
  auto s = SampleLoader::Create(r.repo->store(), r.Version().samples, {"tshirt"}, Gray28());
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("is not a known class") != std::string::npos);
}

TEST_CASE("loader: holds at most `prefetch` batches however slow the consumer") {
  TrainRepo r(200);
  LoaderOptions o = Gray28();
  o.batch_size = 4;
  o.prefetch = 3;
  o.workers = 4;
  auto loader = MakeLoader(r, o);
  loader->StartEpoch(0);
  size_t n = 0;
  while (true) {
    auto b = Must(loader->Next());
    if (!b) break;
    ++n;
    // A slow consumer: the workers would race ahead if nothing bounded them.
    if (n % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(n == 50);
  CHECK(loader->peak_batches_held() <= 3);
  CHECK(loader->peak_batches_held() >= 1);
  // Restarting mid-epoch is allowed and stops the old workers.
  loader->StartEpoch(1);
  REQUIRE(Must(loader->Next()));
  loader->StartEpoch(2);
  CHECK(loader->peak_batches_held() <= 3);
}

}  // namespace
}  // namespace vrepo::train
