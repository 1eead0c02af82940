// vrepo-fmnist-export: writes Debian's Fashion-MNIST (package dataset-fashion-mnist) as a folder
// of 8-bit grayscale PNGs plus labels.csv, the shape of dataset vrepo is made to version.
// Single process; PNG encoding runs on a pool of std::threads, one libspng context per image.
#include <spng.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

// ASCII class names, index = label value in the IDX file.
constexpr const char* kClassNames[10] = {"tshirt", "trouser", "pullover", "dress", "coat",
                                         "sandal", "shirt",   "sneaker",  "bag",   "ankle_boot"};

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FileHandle = std::unique_ptr<FILE, FileCloser>;

struct SpngCtxFree {
  void operator()(spng_ctx* c) const { spng_ctx_free(c); }
};
using SpngCtx = std::unique_ptr<spng_ctx, SpngCtxFree>;

struct MallocFree {
  void operator()(void* p) const { std::free(p); }
};

// One split as read from its two IDX files.
struct Split {
  std::string name;  // "train" or "test"
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols, row-major
  std::vector<uint8_t> labels;  // count
};

// Reads exactly `n` bytes from `f`; on failure sets `err` to a cause naming what was expected.
bool ReadExact(gzFile f, void* buf, size_t n, const char* what, std::string* err) {
  auto* out = static_cast<uint8_t*>(buf);
  size_t done = 0;
  while (done < n) {
    // gzread takes an unsigned count; read in slices well below its limit.
    unsigned want = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    int got = gzread(f, out + done, want);
    if (got < 0) {
      int code = 0;
      *err = std::string("gzip error while reading ") + what + ": " + gzerror(f, &code);
      return false;
    }
    if (got == 0) {
      *err = std::string("truncated ") + what + ": expected " + std::to_string(n) + " bytes, got " +
             std::to_string(done);
      return false;
    }
    done += static_cast<size_t>(got);
  }
  return true;
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Reads an IDX file (magic, dims, data) into `data`. `expect_magic` is 0x803 or 0x801.
bool ReadIdx(const std::string& path, uint32_t expect_magic, std::vector<uint32_t>* dims,
             std::vector<uint8_t>* data, std::string* err) {
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) {
    *err = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  gzbuffer(f.get(), 1 << 20);
  uint8_t head[4];
  std::string cause;
  if (!ReadExact(f.get(), head, 4, "IDX header", &cause)) {
    *err = path + ": " + cause;
    return false;
  }
  uint32_t magic = BigEndian32(head);
  if (magic != expect_magic) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": bad IDX magic 0x%08x, expected 0x%08x", magic, expect_magic);
    *err = path + buf;
    return false;
  }
  size_t ndims = magic & 0xff;
  std::vector<uint8_t> raw(4 * ndims);
  if (!ReadExact(f.get(), raw.data(), raw.size(), "IDX dimensions", &cause)) {
    *err = path + ": " + cause;
    return false;
  }
  size_t total = 1;
  dims->clear();
  for (size_t i = 0; i < ndims; ++i) {
    uint32_t d = BigEndian32(&raw[4 * i]);
    if (d == 0 || d > (1u << 24)) {
      *err = path + ": implausible IDX dimension " + std::to_string(i) + " = " + std::to_string(d);
      return false;
    }
    dims->push_back(d);
    total *= d;
  }
  data->resize(total);
  if (!ReadExact(f.get(), data->data(), total, "IDX data", &cause)) {
    *err = path + ": " + cause;
    return false;
  }
  // Trailing bytes mean the header lies about the count.
  uint8_t extra;
  if (gzread(f.get(), &extra, 1) != 0) {
    *err = path + ": data continues past the " + std::to_string(total) +
           " bytes the IDX header announces";
    return false;
  }
  return true;
}

bool LoadSplit(const std::string& data_dir, const std::string& name, Split* split,
               std::string* err) {
  const std::string stem = data_dir + "/" + (name == "train" ? "train" : "t10k");
  const std::string images_path = stem + "-images-idx3-ubyte.gz";
  const std::string labels_path = stem + "-labels-idx1-ubyte.gz";
  std::vector<uint32_t> idims, ldims;
  if (!ReadIdx(images_path, 0x803, &idims, &split->pixels, err)) return false;
  if (!ReadIdx(labels_path, 0x801, &ldims, &split->labels, err)) return false;
  if (idims[0] != ldims[0]) {
    *err = labels_path + ": holds " + std::to_string(ldims[0]) + " labels but " + images_path +
           " holds " + std::to_string(idims[0]) + " images";
    return false;
  }
  for (size_t i = 0; i < split->labels.size(); ++i) {
    if (split->labels[i] >= 10) {
      *err = labels_path + ": label " + std::to_string(split->labels[i]) + " at index " +
             std::to_string(i) + " is not a class 0-9";
      return false;
    }
  }
  split->name = name;
  split->rows = idims[1];
  split->cols = idims[2];
  return true;
}

// Encodes one grayscale image as PNG and writes it to `path`.
bool WritePng(const std::string& path, const uint8_t* pixels, uint32_t rows, uint32_t cols,
              std::string* err) {
  SpngCtx ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx) {
    *err = path + ": spng_ctx_new failed";
    return false;
  }
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = cols;
  ihdr.height = rows;
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
  int rc = spng_set_ihdr(ctx.get(), &ihdr);
  if (rc == 0) {
    rc = spng_encode_image(ctx.get(), pixels, size_t{rows} * cols, SPNG_FMT_PNG,
                           SPNG_ENCODE_FINALIZE);
  }
  if (rc != 0) {
    *err = path + ": PNG encoding failed: " + spng_strerror(rc);
    return false;
  }
  size_t len = 0;
  std::unique_ptr<void, MallocFree> png(spng_get_png_buffer(ctx.get(), &len, &rc));
  if (!png) {
    *err = path + ": PNG encoding failed: " + spng_strerror(rc);
    return false;
  }
  FileHandle out(std::fopen(path.c_str(), "wb"));
  if (!out) {
    *err = path + ": cannot create: " + std::strerror(errno);
    return false;
  }
  if (std::fwrite(png.get(), 1, len, out.get()) != len || std::fflush(out.get()) != 0) {
    *err = path + ": write failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

struct Job {
  const Split* split;
  size_t index;   // within the split
  unsigned copy;  // 0: the image itself; k > 0: a distinct variant for scale benchmarks
};

std::string CopyFolder(const std::string& split, unsigned copy) {
  if (copy == 0) return "images/" + split;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-copy%03u", copy);
  return "images/" + split + suffix;
}

std::string RelativePngPath(const Job& job) {
  char name[32];
  std::snprintf(name, sizeof name, "%05zu.png", job.index);
  return CopyFolder(job.split->name, job.copy) + "/" + name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Export Fashion-MNIST as PNG files plus labels.csv (path,label)",
               "vrepo-fmnist-export"};
  std::string out_dir;
  std::string split_arg = "train";
  std::string data_dir = kDefaultDataDir;
  size_t limit = SIZE_MAX;
  size_t offset = 0;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--out", out_dir, "Output folder (created if missing)")->required();
  app.add_option("--split", split_arg, "train, test or all (train, then test)")
      ->check(CLI::IsMember({"train", "test", "all"}))
      ->capture_default_str();
  app.add_option("--limit", limit, "Export at most N images (default: all)");
  app.add_option("--offset", offset, "Skip the first N images of the selection")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "Folder with the gzip IDX files")->capture_default_str();
  app.add_option("-j,--jobs", jobs, "Encoder threads")->check(CLI::Range(1u, 1024u));
  unsigned copies = 1;
  app.add_option("--copies", copies,
                 "Write each image K times, copy k>1 into images/SPLIT-copyNNN/ with its first "
                 "pixel XORed by k-1, so every file is distinct (for million-sample benchmarks)")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> names;
  if (split_arg == "train" || split_arg == "all") names.push_back("train");
  if (split_arg == "test" || split_arg == "all") names.push_back("test");

  std::vector<Split> splits(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    std::string err;
    if (!LoadSplit(data_dir, names[i], &splits[i], &err)) {
      std::fprintf(stderr, "vrepo-fmnist-export: %s\n", err.c_str());
      return 1;
    }
  }

  // The selection is the concatenation of the splits, cut by --offset and --limit.
  std::vector<Job> work;
  size_t position = 0;
  for (const Split& s : splits) {
    for (size_t i = 0; i < s.labels.size(); ++i, ++position) {
      if (position < offset || work.size() >= limit) continue;
      work.push_back({&s, i, 0});
    }
  }
  const size_t originals = work.size();
  for (unsigned c = 1; c < copies; ++c) {
    for (size_t k = 0; k < originals; ++k) work.push_back({work[k].split, work[k].index, c});
  }

  std::error_code ec;
  for (const Split& s : splits) {
    for (unsigned c = 0; c < copies; ++c) {
      const std::string folder = CopyFolder(s.name, c);
      std::filesystem::create_directories(out_dir + "/" + folder, ec);
      if (ec) {
        std::fprintf(stderr, "vrepo-fmnist-export: %s/%s: cannot create: %s\n", out_dir.c_str(),
                     folder.c_str(), ec.message().c_str());
        return 1;
      }
    }
  }

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  std::string first_error;
  auto worker = [&] {
    std::string err;
    std::vector<uint8_t> variant;
    for (size_t k = next++; k < work.size() && !failed; k = next++) {
      const Job& job = work[k];
      const Split& s = *job.split;
      const size_t pixels = size_t{s.rows} * s.cols;
      const uint8_t* image = &s.pixels[job.index * pixels];
      if (job.copy > 0) {
        variant.assign(image, image + pixels);
        variant[0] ^= static_cast<uint8_t>(job.copy);
        image = variant.data();
      }
      if (!WritePng(out_dir + "/" + RelativePngPath(job), image, s.rows, s.cols, &err)) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (!failed.exchange(true)) first_error = err;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (failed) {
    std::fprintf(stderr, "vrepo-fmnist-export: %s\n", first_error.c_str());
    return 1;
  }

  std::string csv = "path,label\n";
  csv.reserve(csv.size() + work.size() * 40);
  for (const Job& job : work) {
    csv += RelativePngPath(job);
    csv += ',';
    csv += kClassNames[job.split->labels[job.index]];
    csv += '\n';
  }
  const std::string csv_path = out_dir + "/labels.csv";
  FileHandle out(std::fopen(csv_path.c_str(), "wb"));
  if (!out || std::fwrite(csv.data(), 1, csv.size(), out.get()) != csv.size() ||
      std::fflush(out.get()) != 0) {
    std::fprintf(stderr, "vrepo-fmnist-export: %s: cannot write: %s\n", csv_path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::printf("exported %zu images to %s\n", work.size(), out_dir.c_str());
  return 0;
}
