// Training on CUDA: accuracy with bf16 autocast and fp32, pinned loader batches, deterministic
// runs. Every case returns early with a message where torch sees no CUDA device, so the suite
// passes on machines without a GPU (bench/cuda_check.sh runs these on one).
#include "vrepo/train/trainer.h"

// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include <torch/cuda.h>

#include "vrepo/train/loader.h"
#include "vrepo/train/safetensors.h"

#include <doctest/doctest.h>
// clang-format on

#include <algorithm>
#include <cstdlib>

#include "train/train_fixture.h"

namespace vrepo::train {
namespace {

using vrepo::testing::Must;
using vrepo::testing::SmallTrainConfig;
using vrepo::testing::TrainRepo;

bool HaveCuda() {
  if (!torch::cuda::is_available()) {
    MESSAGE("skipped: no CUDA device (torch::cuda::is_available() is false)");
    return false;
  }
  // Train sets this itself, but only before cuBLAS starts; in this process an earlier case
  // may have started it already.
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  return true;
}

TEST_CASE("cuda: small-cnn on 5,000 images reaches 80% in bf16 and in fp32") {
  if (!HaveCuda()) return;
  TrainRepo r(5000, 1000);
  for (const char* precision : {"auto", "fp32"}) {
    TrainConfig c = SmallTrainConfig("cuda");
    c.val_labels = "test.csv";
    c.epochs = 2;
    c.batch_size = 64;
    c.precision = precision;
    TrainResult res = Must(Train(*r.repo, c, {}));
    REQUIRE(res.epochs.size() == 2);
    const EpochMetrics& last = res.epochs.back();
    MESSAGE(res.versions.device_name
            << " " << res.config.precision << ": val accuracy " << last.val_accuracy << ", "
            << last.images_per_second << " img/s; CUDA " << res.versions.cuda << ", cuDNN "
            << res.versions.cudnn << ", libtorch " << res.versions.libtorch);
    CHECK(last.val_accuracy >= 0.80);
    CHECK(res.config.device == "cuda");
    // auto resolves to bf16 on CUDA, and the record names what ran.
    CHECK(res.config.precision == (std::string(precision) == "auto" ? "bf16" : "fp32"));
    CHECK(res.versions.cuda != "none");
    CHECK(res.versions.device_name != "cpu");
    CHECK(res.train_digest == SampleDigestOf(r.Version("labels.csv")));
    // Weights are saved as fp32 on the CPU whatever the precision of the computation.
    SafetensorsFile w = Must(ParseSafetensors(res.weights, "model.safetensors"));
    for (const auto& [name, t] : w.tensors) {
      const bool fp32 = !t.is_floating_point() || t.scalar_type() == torch::kFloat32;
      CHECK_MESSAGE(fp32, name);
    }
    // They evaluate on CUDA (fp32) close to what validation in training saw.
    EvalOptions eo;
    eo.labels = "test.csv";
    eo.device = "cuda";
    EvalResult ev = Must(Evaluate(*r.repo, res.weights, eo));
    CHECK(ev.accuracy ==
          doctest::Approx(res.epochs[res.best_epoch - 1].val_accuracy).epsilon(0.02));
  }
}

TEST_CASE("cuda: loader batches are pinned and copy to the GPU unchanged") {
  if (!HaveCuda()) return;
  TrainRepo r(100);
  std::vector<std::string> classes;
  for (const Sample& s : r.Version().samples) classes.push_back(s.label);
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  LoaderOptions o;
  o.preprocessing = Must(DefaultPreprocessing("small-cnn"));
  o.batch_size = 32;
  o.flip = o.crop = true;
  o.channels_last = true;
  auto plain = Must(SampleLoader::Create(r.repo->store(), r.Version().samples, classes, o));
  o.pin_memory = true;
  auto pinned = Must(SampleLoader::Create(r.repo->store(), r.Version().samples, classes, o));
  plain->StartEpoch(0);
  pinned->StartEpoch(0);
  int batches = 0;
  while (true) {
    auto a = Must(plain->Next());
    auto b = Must(pinned->Next());
    REQUIRE(a.has_value() == b.has_value());
    if (!a) break;
    ++batches;
    CHECK_FALSE(a->images.is_pinned());
    CHECK(b->images.is_pinned());
    CHECK(b->images.is_contiguous(torch::MemoryFormat::ChannelsLast));
    torch::Tensor on_gpu = b->images.to(torch::Device(torch::kCUDA, 0), /*non_blocking=*/true);
    CHECK(torch::equal(on_gpu.cpu(), a->images));
    CHECK(torch::equal(b->targets, a->targets));
  }
  CHECK(batches == 4);
}

TEST_CASE("cuda: deterministic runs repeat bit for bit, bf16 small-cnn and fp32 resnet18") {
  if (!HaveCuda()) return;
  TrainRepo r(400);
  struct Case {
    const char* model;
    const char* precision;
    int image_size;
  };
  for (const Case& k : {Case{"small-cnn", "bf16", 0}, Case{"resnet18", "fp32", 32}}) {
    TrainConfig c = SmallTrainConfig("cuda");
    c.model = k.model;
    c.precision = k.precision;
    c.image_size = k.image_size;
    c.deterministic = true;
    c.augment = {"flip", "crop"};
    c.epochs = 2;
    c.workers = 3;
    TrainResult a = Must(Train(*r.repo, c, {}));
    c.workers = 1;  // thread timing must not matter
    TrainResult b = Must(Train(*r.repo, c, {}));
    MESSAGE(std::string(k.model) << " " << std::string(k.precision) << ": weights "
                                 << std::string(a.weights == b.weights ? "identical" : "DIFFER")
                                 << ", train loss " << a.epochs[1].train_loss << " / "
                                 << b.epochs[1].train_loss);
    CHECK(a.weights == b.weights);
    CHECK(a.epochs[1].train_loss == b.epochs[1].train_loss);
    CHECK(a.epochs[1].val_accuracy == b.epochs[1].val_accuracy);
    CHECK(a.config.precision == k.precision);
  }
}

}  // namespace
}  // namespace vrepo::train
