#include "vrepo/train/loader.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "seeded_random.h"
#include "vrepo/dataset/image.h"
#include "vrepo/dataset/sample_digest.h"
#include "vrepo/train/transforms.h"

namespace vrepo::train {
namespace {

// Distinct domains so the permutation and the augmentation streams never coincide.
constexpr uint64_t kOrderDomain = 0x6f72646572ull;      // "order"
constexpr uint64_t kAugmentDomain = 0x6175676d656eull;  // "augmen"

// Legacy mode: bilinear resize of an HWC uint8 image to `oh` x `ow`, into floats in [0, 255],
// with the pixel-centre convention of torch's interpolate(align_corners=False).
void ResizeBilinear(const DecodedImage& in, int oh, int ow, std::vector<float>* out) {
  const int c = static_cast<int>(in.channels);
  const int ih = static_cast<int>(in.height), iw = static_cast<int>(in.width);
  out->resize(static_cast<size_t>(oh) * ow * c);
  if (ih == oh && iw == ow) {
    std::copy(in.pixels.begin(), in.pixels.end(), out->begin());
    return;
  }
  const float sy = static_cast<float>(ih) / oh, sx = static_cast<float>(iw) / ow;
  for (int y = 0; y < oh; ++y) {
    float fy = std::max(0.0f, (y + 0.5f) * sy - 0.5f);
    int y0 = std::min(static_cast<int>(fy), ih - 1);
    int y1 = std::min(y0 + 1, ih - 1);
    float ly = fy - y0;
    for (int x = 0; x < ow; ++x) {
      float fx = std::max(0.0f, (x + 0.5f) * sx - 0.5f);
      int x0 = std::min(static_cast<int>(fx), iw - 1);
      int x1 = std::min(x0 + 1, iw - 1);
      float lx = fx - x0;
      for (int k = 0; k < c; ++k) {
        auto px = [&](int yy, int xx) {
          return static_cast<float>(in.pixels[(static_cast<size_t>(yy) * iw + xx) * c + k]);
        };
        float top = px(y0, x0) * (1 - lx) + px(y0, x1) * lx;
        float bottom = px(y1, x0) * (1 - lx) + px(y1, x1) * lx;
        (*out)[(static_cast<size_t>(y) * ow + x) * c + k] = top * (1 - ly) + bottom * ly;
      }
    }
  }
}

Status WithPath(const Status& st, const std::string& path) {
  if (st.message().rfind(path, 0) == 0) return st;  // already names it
  return st.WithContext(path);
}

}  // namespace

// The state of one running epoch, shared by the consumer and the workers under `mu`.
struct SampleLoader::Epoch {
  int number = 0;
  std::vector<size_t> order;
  size_t num_batches = 0;
  // The id each sample's bytes hashed to, indexed by sample (ids only: paths and labels are
  // in samples_ already); each worker writes only the samples of its own batch, and the
  // consumer reads them after the last batch was handed over.
  std::vector<ContentId> read;
  std::vector<char> taken;  // by sample: read by this shard (written like `read`)

  std::mutex mu;
  std::condition_variable cv;
  size_t next_claim = 0;    // next batch a worker builds
  size_t next_consume = 0;  // next batch Next() returns
  std::map<size_t, Result<Batch>> ready;
  bool stop = false;
  std::vector<std::thread> threads;
};

SampleLoader::SampleLoader(const ObjectStore& store, std::vector<Sample> samples,
                           std::vector<std::string> classes, const LoaderOptions& options)
    : store_(store),
      samples_(std::move(samples)),
      classes_(std::move(classes)),
      options_(options) {}

SampleLoader::~SampleLoader() { StopEpoch(); }

Result<std::unique_ptr<SampleLoader>> SampleLoader::Create(const ObjectStore& store,
                                                           std::vector<Sample> samples,
                                                           std::vector<std::string> classes,
                                                           const LoaderOptions& options) {
  if (samples.empty()) return Status::InvalidArgument("no samples to load");
  if (options.batch_size <= 0) return Status::InvalidArgument("batch size must be positive");
  if (options.prefetch <= 0) return Status::InvalidArgument("prefetch must be positive");
  if (options.shards < 1 || options.shard < 0 || options.shard >= options.shards) {
    return Status::InvalidArgument("shard " + std::to_string(options.shard) + " of " +
                                   std::to_string(options.shards) + " does not exist");
  }
  if (options.image_size < 0) return Status::InvalidArgument("image size must not be negative");
  if (options.channels != 0 && options.channels != 1 && options.channels != 3) {
    return Status::InvalidArgument("channels must be 1 or 3");
  }
  std::unique_ptr<SampleLoader> loader(
      new SampleLoader(store, std::move(samples), std::move(classes), options));
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < loader->classes_.size(); ++i) index[loader->classes_[i]] = i;
  loader->targets_.reserve(loader->samples_.size());
  for (const Sample& s : loader->samples_) {
    auto it = index.find(s.label);
    if (it == index.end()) {
      return Status::InvalidArgument(s.path + ": label '" + s.label + "' is not a known class");
    }
    loader->targets_.push_back(it->second);
  }

  if (options.legacy_preprocessing) {
    VREPO_RETURN_IF_ERROR(loader->ReadLegacyGeometry());
  } else {
    const Preprocessing& p = options.preprocessing;
    if (p.channels != 1 && p.channels != 3) {
      return Status::InvalidArgument("preprocessing channels must be 1 or 3");
    }
    if (p.crop < 1 || p.resize < 1) {
      return Status::InvalidArgument("preprocessing resize and crop must be positive");
    }
    loader->channels_ = p.channels;
    loader->height_ = loader->width_ = p.crop;
  }

  int workers = options.workers;
  if (workers <= 0) {
    workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  }
  loader->workers_ = workers;
  return loader;
}

// Legacy mode: the first sample fixes channels and, without image_size, the size.
Status SampleLoader::ReadLegacyGeometry() {
  const Sample& first = samples_.front();
  auto bytes = store_.Get(first.id);
  if (!bytes.ok()) return WithPath(bytes.status(), first.path);
  DecodeOptions decode;
  decode.channels = static_cast<uint32_t>(options_.channels);
  decode.max_pixels = options_.max_image_pixels;
  VREPO_ASSIGN_OR_RETURN(DecodedImage image, DecodeImage(*bytes, first.path, decode));
  if (options_.image_size == 0 &&
      std::max(image.width, image.height) > static_cast<uint32_t>(kMaxNativeImageSide)) {
    return Status::InvalidArgument(
        first.path + ": " + std::to_string(image.width) + "x" + std::to_string(image.height) +
        " is too large to train at native size (at most " + std::to_string(kMaxNativeImageSide) +
        " a side); give an image size");
  }
  channels_ = static_cast<int>(image.channels);
  height_ = options_.image_size > 0 ? options_.image_size : static_cast<int>(image.height);
  width_ = options_.image_size > 0 ? options_.image_size : static_cast<int>(image.width);
  return Status::OK();
}

size_t SampleLoader::batches_per_epoch() const {
  return (samples_.size() + options_.batch_size - 1) / options_.batch_size;
}

size_t SampleLoader::peak_batches_held() const { return peak_held_.load(); }

std::vector<size_t> SampleLoader::EpochOrder(int epoch) const {
  std::vector<size_t> order(samples_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!options_.shuffle) return order;
  std::mt19937_64 rng(Combine(Combine(options_.seed, kOrderDomain), epoch));
  // Fisher-Yates with our own uniform draw, for the same order under any standard library.
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[Below(rng, i)]);
  return order;
}

void SampleLoader::StopEpoch() {
  if (!epoch_) return;
  {
    std::lock_guard<std::mutex> lock(epoch_->mu);
    epoch_->stop = true;
  }
  epoch_->cv.notify_all();
  for (auto& t : epoch_->threads) t.join();
  epoch_.reset();
}

void SampleLoader::StartEpoch(int epoch) {
  StopEpoch();
  auto e = std::make_unique<Epoch>();
  e->number = epoch;
  e->order = EpochOrder(epoch);
  e->num_batches = batches_per_epoch();
  e->read.resize(samples_.size());
  e->taken.assign(samples_.size(), 0);
  epoch_ = std::move(e);
  size_t threads = std::min<size_t>(workers_, epoch_->num_batches);
  for (size_t i = 0; i < threads; ++i) {
    epoch_->threads.emplace_back([this, ep = epoch_.get()] { WorkerLoop(ep); });
  }
}

void SampleLoader::WorkerLoop(Epoch* e) {
  const size_t prefetch = static_cast<size_t>(options_.prefetch);
  std::unique_lock<std::mutex> lock(e->mu);
  while (true) {
    // A batch is started only inside the window of `prefetch` batches after the one the
    // consumer waits for: that bounds memory whatever the number of samples.
    e->cv.wait(lock, [&] {
      return e->stop || e->next_claim >= e->num_batches ||
             e->next_claim < e->next_consume + prefetch;
    });
    if (e->stop || e->next_claim >= e->num_batches) return;
    size_t b = e->next_claim++;
    size_t held = e->next_claim - e->next_consume;
    size_t peak = peak_held_.load();
    while (held > peak && !peak_held_.compare_exchange_weak(peak, held)) {
    }
    lock.unlock();
    Result<Batch> batch = BuildBatch(*e, b);
    lock.lock();
    e->ready.emplace(b, std::move(batch));
    e->cv.notify_all();
  }
}

// Legacy mode: decodes one sample into batch slot `k` of `images`.
Status SampleLoader::LegacySample(std::string_view bytes, const std::string& path, uint64_t stream,
                                  float* images, int64_t k, std::vector<float>* pixels) const {
  const int c = channels_, h = height_, w = width_;
  const size_t plane = static_cast<size_t>(h) * w;
  DecodeOptions decode;
  decode.channels = static_cast<uint32_t>(c);
  decode.max_pixels = options_.max_image_pixels;
  auto image = DecodeImage(bytes, path, decode);
  if (!image.ok()) return WithPath(image.status(), path);
  ResizeBilinear(*image, h, w, pixels);

  std::mt19937_64 rng(stream);
  bool flip = options_.flip && (rng() & 1);
  int dy = 0, dx = 0;
  if (options_.crop) {
    dy = static_cast<int>(Below(rng, 9)) - 4;
    dx = static_cast<int>(Below(rng, 9)) - 4;
  }
  float* out = images + static_cast<size_t>(k) * plane * c;
  for (int y = 0; y < h; ++y) {
    int sy = y + dy;
    for (int x = 0; x < w; ++x) {
      int sx = (flip ? w - 1 - x : x) + dx;
      bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
      const float* src = inside ? &(*pixels)[(static_cast<size_t>(sy) * w + sx) * c] : nullptr;
      for (int ch = 0; ch < c; ++ch) {
        // Padding is black, as torchvision's RandomCrop(padding=4) pads with 0.
        float v = (inside ? src[ch] : 0.0f) / 127.5f - 1.0f;
        if (options_.channels_last) {
          out[(static_cast<size_t>(y) * w + x) * c + ch] = v;
        } else {
          out[ch * plane + static_cast<size_t>(y) * w + x] = v;
        }
      }
    }
  }
  return Status::OK();
}

SampleLoader::Slice SampleLoader::ShardSlice(size_t batch_index) const {
  const size_t bs = static_cast<size_t>(options_.batch_size);
  const size_t start = batch_index * bs;
  const size_t n = std::min(samples_.size(), start + bs) - start;
  const auto shard = static_cast<size_t>(options_.shard);
  const auto shards = static_cast<size_t>(options_.shards);
  return {start + n * shard / shards, start + n * (shard + 1) / shards, n};
}

std::vector<size_t> SampleLoader::ShardOrder(int epoch) const {
  std::vector<size_t> order = EpochOrder(epoch);
  if (options_.shards <= 1) return order;
  std::vector<size_t> out;
  for (size_t b = 0; b < batches_per_epoch(); ++b) {
    Slice slice = ShardSlice(b);
    out.insert(out.end(), order.begin() + slice.begin, order.begin() + slice.end);
  }
  return out;
}

Result<Batch> SampleLoader::BuildBatch(Epoch& e, size_t batch_index) {
  const Slice slice = ShardSlice(batch_index);
  const size_t start = slice.begin;
  const int64_t n = static_cast<int64_t>(slice.end - slice.begin);
  const int c = channels_, h = height_, w = width_;
  Batch batch;
  try {
    auto opts = torch::TensorOptions().dtype(torch::kFloat32);
    if (options_.pin_memory) opts = opts.pinned_memory(true);
    batch.images = torch::empty(
        {n, c, h, w}, opts.memory_format(options_.channels_last ? torch::MemoryFormat::ChannelsLast
                                                                : torch::MemoryFormat::Contiguous));
    batch.targets = torch::empty({n}, torch::TensorOptions().dtype(torch::kInt64));
  } catch (const std::exception& ex) {
    return Status::IOError(std::string("allocating a batch: ") + ex.what());
  }
  batch.global_size = static_cast<int64_t>(slice.global);
  float* images = batch.images.data_ptr<float>();
  int64_t* targets = batch.targets.data_ptr<int64_t>();
  auto& read = e.read;
  std::vector<float> pixels;
  for (int64_t k = 0; k < n; ++k) {
    const size_t idx = e.order[start + k];
    const Sample& s = samples_[idx];
    auto bytes = store_.Get(s.id);
    if (!bytes.ok()) return WithPath(bytes.status(), s.path);
    // Hashed here, not only inside the store, so the run's digest is of the bytes decoded.
    ContentId got = ContentId::Of(*bytes);
    if (got != s.id) {
      return Status::Corruption(s.path + ": content hashes to " + got.Hex() + ", expected " +
                                s.id.Hex());
    }
    read[idx] = got;
    e.taken[idx] = 1;
    // Per-sample stream from (seed, epoch, index): independent of which thread builds it.
    const uint64_t stream = Combine(Combine(Combine(options_.seed, kAugmentDomain), e.number), idx);
    if (options_.legacy_preprocessing) {
      VREPO_RETURN_IF_ERROR(LegacySample(*bytes, s.path, stream, images, k, &pixels));
    } else {
      DecodeOptions decode;  // native channels: the transform converts as PIL would
      decode.max_pixels = options_.max_image_pixels;
      auto image = DecodeImage(*bytes, s.path, decode);
      if (!image.ok()) return WithPath(image.status(), s.path);
      auto x = options_.flip || options_.crop
                   ? TrainTransform(*image, options_.preprocessing,
                                    TrainAugment{options_.crop, options_.flip}, stream, s.path)
                   : EvalTransform(*image, options_.preprocessing, s.path);
      if (!x.ok()) return x.status();
      try {
        batch.images[k].copy_(*x);
      } catch (const std::exception& ex) {
        return Status::InvalidArgument(s.path + ": " + ex.what());
      }
    }
    targets[k] = targets_[idx];
    batch.indices.push_back(idx);
  }
  return batch;
}

Result<std::optional<Batch>> SampleLoader::Next() {
  if (!epoch_) return Status::InvalidArgument("SampleLoader::Next called before StartEpoch");
  Epoch& e = *epoch_;
  std::unique_lock<std::mutex> lock(e.mu);
  if (e.next_consume >= e.num_batches) return std::optional<Batch>();
  e.cv.wait(lock, [&] { return e.ready.count(e.next_consume) > 0; });
  auto node = e.ready.extract(e.next_consume);
  Result<Batch> batch = std::move(node.mapped());
  if (!batch.ok()) {
    // The epoch ends at the first failing batch; workers stop claiming more.
    e.stop = true;
    e.next_consume = e.num_batches;
    e.cv.notify_all();
    return batch.status();
  }
  ++e.next_consume;
  e.cv.notify_all();
  if (e.next_consume == e.num_batches) {
    lock.unlock();
    std::vector<DigestEntry> entries;
    entries.reserve(samples_.size());
    for (size_t i = 0; i < samples_.size(); ++i) {
      if (e.taken[i])
        entries.push_back(DigestEntry{samples_[i].path, e.read[i], samples_[i].label});
    }
    epoch_digest_ = SampleDigest(std::move(entries));
  }
  return std::optional<Batch>(std::move(batch).value());
}

}  // namespace vrepo::train
