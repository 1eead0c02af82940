// SampleLoader: streams the samples of one split from the object store into batches of
// tensors. Reading, hash checking, decoding, resizing and augmentation run on worker threads,
// at most `prefetch` batches ahead of the consumer, so host memory is bounded by the prefetch
// depth and not by the number of samples. Batch contents depend only on (seed, epoch, sample
// index), never on thread timing. One consumer thread calls StartEpoch/Next; the ObjectStore
// must outlive the loader.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/dataset/dataset.h"
#include "vrepo/dataset/image.h"
#include "vrepo/store/object_store.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct LoaderOptions {
  int batch_size = 64;
  // The model's preprocessing: every image goes through EvalTransform, or TrainTransform with
  // the flip and crop below (random-resized-crop), at p.crop x p.crop with p.channels.
  Preprocessing preprocessing;
  // The legacy mode of run records made before preprocessing was recorded (run.json without
  // "preprocessing"), kept only so that they evaluate and reproduce as recorded: images
  // resized (plain bilinear) to a square `image_size` or to the first sample's size, with
  // `channels` or the first sample's, scaled by (x/255 - 0.5) / 0.5; crop = pad 4 with black
  // and crop back to size. `preprocessing` is ignored then.
  bool legacy_preprocessing = false;
  int image_size = 0;  // legacy only: square side; 0 = the first sample's size
  int channels = 0;    // legacy only: 1 or 3; 0 = the first sample's (gray 1, else 3)
  bool flip = false;   // horizontal flip with p = 0.5
  bool crop = false;   // random-resized-crop (legacy: pad 4 and random crop)
  uint64_t seed = 0;
  int workers = 0;   // decoding threads; 0 = hardware threads (at most 8)
  int prefetch = 4;  // batches prepared ahead; the most the loader holds at once
  bool shuffle = true;
  bool pin_memory = false;     // page-locked batches for async CUDA copies (CUDA builds only)
  bool channels_last = false;  // images laid out NHWC in memory (shape stays [B, C, H, W])
  // Images claiming more pixels are refused before decoding (DecodeOptions::max_pixels).
  uint64_t max_image_pixels = kDefaultMaxImagePixels;
  // Data-parallel ranks: every batch of the epoch's order (batch_size samples: the global
  // batch) is cut into `shards` contiguous parts as equal as can be, and this loader yields
  // part `shard` (possibly empty in a last, short batch).
  int shard = 0;
  int shards = 1;
};

// Legacy mode: the largest native side taken from a sample when image_size is 0, the same
// bound as --image-size: every batch is allocated at the first sample's size, so a hostile
// first image must not choose it freely.
constexpr int kMaxNativeImageSide = 4096;

struct Batch {
  torch::Tensor images;         // [B, C, H, W] float, normalized as the preprocessing says
  torch::Tensor targets;        // [B] int64 class index
  std::vector<size_t> indices;  // positions in the loader's sample list
  int64_t global_size = 0;      // samples in the whole batch, all shards together
};

class SampleLoader {
 public:
  // `classes` maps a label to its index (position in the list). InvalidArgument when a
  // sample's label is not in `classes`, when there are no samples, or options are out of
  // range. Only in legacy mode is the first sample decoded, for channels and size
  // (Corruption naming its path; InvalidArgument when, without image_size, a side exceeds
  // kMaxNativeImageSide).
  static Result<std::unique_ptr<SampleLoader>> Create(const ObjectStore& store,
                                                      std::vector<Sample> samples,
                                                      std::vector<std::string> classes,
                                                      const LoaderOptions& options);
  ~SampleLoader();
  SampleLoader(const SampleLoader&) = delete;
  SampleLoader& operator=(const SampleLoader&) = delete;

  // Starts (or restarts) epoch `epoch` (0-based): stops a running epoch, computes its order
  // and begins decoding ahead.
  void StartEpoch(int epoch);
  // The next batch of the epoch, or nullopt after its last one. An object that is missing,
  // does not hash to the sample's id, or does not decode is an error naming the path; the
  // epoch stops there.
  Result<std::optional<Batch>> Next();

  // The order of sample indices of `epoch` (identity when shuffle is off).
  std::vector<size_t> EpochOrder(int epoch) const;
  // The sample indices this loader's shard reads in `epoch`, in order (EpochOrder when there
  // is one shard).
  std::vector<size_t> ShardOrder(int epoch) const;

  size_t size() const { return samples_.size(); }
  size_t batches_per_epoch() const;
  const std::vector<Sample>& samples() const { return samples_; }
  int channels() const { return channels_; }
  int height() const { return height_; }
  int width() const { return width_; }
  const LoaderOptions& options() const { return options_; }
  int workers() const { return workers_; }

  // The sample digest (SampleDigest over path, hashed content id and label) of what the last
  // fully consumed epoch read (this shard's samples only); empty before one completes.
  const std::string& epoch_digest() const { return epoch_digest_; }
  // The most batches the loader held at once (being built plus ready), over its lifetime;
  // never above `prefetch`.
  size_t peak_batches_held() const;

 private:
  struct Epoch;
  SampleLoader(const ObjectStore& store, std::vector<Sample> samples,
               std::vector<std::string> classes, const LoaderOptions& options);
  Status ReadLegacyGeometry();
  Status LegacySample(std::string_view bytes, const std::string& path, uint64_t stream,
                      float* images, int64_t k, std::vector<float>* pixels) const;
  void StopEpoch();
  void WorkerLoop(Epoch* epoch);
  Result<Batch> BuildBatch(Epoch& epoch, size_t batch_index);
  // Positions [begin, end) in the epoch's order of this shard's part of batch `batch_index`,
  // and the whole batch's size.
  struct Slice {
    size_t begin = 0, end = 0, global = 0;
  };
  Slice ShardSlice(size_t batch_index) const;

  const ObjectStore& store_;
  std::vector<Sample> samples_;
  std::vector<std::string> classes_;
  std::vector<int64_t> targets_;  // class index per sample
  LoaderOptions options_;
  int channels_ = 0;
  int height_ = 0;
  int width_ = 0;
  int workers_ = 1;
  std::string epoch_digest_;
  std::unique_ptr<Epoch> epoch_;
  std::atomic<size_t> peak_held_{0};
};

}  // namespace vrepo::train
