#include "pack_stream.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <string_view>

namespace vrepo::history_internal {
namespace {

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Buffers pack bytes, hashes them for the trailer and feeds them to the indexer in large
// appends (each append costs a write(2) inside the indexer).
class PackSink {
 public:
  PackSink(git_odb_writepack* wp, EVP_MD_CTX* sha) : wp_(wp), sha_(sha) { buf_.reserve(kFlush); }

  Status Write(const void* data, size_t n) {
    buf_.append(static_cast<const char*>(data), n);
    if (buf_.size() >= kFlush) return Flush();
    return Status::OK();
  }
  Status Flush() {
    if (buf_.empty()) return Status::OK();
    EVP_DigestUpdate(sha_, buf_.data(), buf_.size());
    int err = wp_->append(wp_, buf_.data(), buf_.size(), &stats_);
    buf_.clear();
    if (err < 0) return GitError(err, "indexing new pack");
    return Status::OK();
  }
  // Appends the trailer (SHA-1 of everything before it) and sends it unhashed.
  Status Finish() {
    VREPO_RETURN_IF_ERROR(Flush());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha_, digest, &len);
    int err = wp_->append(wp_, digest, len, &stats_);
    if (err < 0) return GitError(err, "indexing new pack");
    err = wp_->commit(wp_, &stats_);
    if (err < 0) return GitError(err, "installing new pack");
    return Status::OK();
  }

 private:
  static constexpr size_t kFlush = 1 << 20;
  git_odb_writepack* wp_;
  EVP_MD_CTX* sha_;
  std::string buf_;
  git_indexer_progress stats_{};
};

// The pack entry header: type in bits 4-6 of the first byte, size as a little-endian varint.
size_t EncodeEntryHeader(git_object_t type, size_t size, unsigned char* out) {
  size_t n = 0;
  unsigned char c = static_cast<unsigned char>((static_cast<unsigned>(type) << 4) | (size & 15));
  size >>= 4;
  while (size != 0) {
    out[n++] = c | 0x80;
    c = size & 0x7f;
    size >>= 7;
  }
  out[n++] = c;
  return n;
}

// Blobs smaller than this are stored rather than compressed (see WritePackNoDelta).
constexpr size_t kStoreBelow = 1024;

// One reusable zlib stream; each object is a complete zlib stream of its own.
class Deflater {
 public:
  Deflater() = default;
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() {
    if (ready_) deflateEnd(&zs_);
  }
  // `mem_level` sizes the hash table that every reset clears: 1 for tiny inputs.
  Status Init(int level, int mem_level) {
    if (deflateInit2(&zs_, level, Z_DEFLATED, 15, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Status::IOError("starting a pack: zlib init failed");
    }
    ready_ = true;
    return Status::OK();
  }
  // Compresses `data` into an internal buffer that `out` views until the next call.
  bool Compress(const void* data, size_t len, std::string_view* out) {
    buf_.resize(deflateBound(&zs_, len));
    deflateReset(&zs_);
    zs_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    zs_.avail_in = static_cast<uInt>(len);
    zs_.next_out = reinterpret_cast<Bytef*>(buf_.data());
    zs_.avail_out = static_cast<uInt>(buf_.size());
    if (deflate(&zs_, Z_FINISH) != Z_STREAM_END) return false;
    *out = std::string_view(buf_.data(), buf_.size() - zs_.avail_out);
    return true;
  }

 private:
  z_stream zs_{};
  bool ready_ = false;
  std::string buf_;
};

void PutBigEndian32(uint32_t v, unsigned char* out) {
  out[0] = v >> 24;
  out[1] = v >> 16;
  out[2] = v >> 8;
  out[3] = v;
}

}  // namespace

Status WritePackNoDelta(git_odb_backend* source, const std::vector<git_oid>& oids, git_odb* dest) {
  git_odb_writepack* raw_wp = nullptr;
  int err = git_odb_write_pack(&raw_wp, dest, nullptr, nullptr);
  if (err < 0) return GitError(err, "starting a pack");
  GitPtr<git_odb_writepack> wp(raw_wp);

  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> sha(EVP_MD_CTX_new());
  if (!sha || EVP_DigestInit_ex(sha.get(), Sha1Md(), nullptr) != 1) {
    return Status::IOError("starting a pack: OpenSSL SHA-1 unavailable");
  }
  PackSink sink(wp.get(), sha.get());

  unsigned char header[12];
  std::memcpy(header, "PACK", 4);
  PutBigEndian32(2, header + 4);
  PutBigEndian32(static_cast<uint32_t>(oids.size()), header + 8);
  VREPO_RETURN_IF_ERROR(sink.Write(header, sizeof(header)));

  // Pointer blobs are ~80 bytes of hex: deflate level 1 would halve them but costs ~1.5 us
  // each (building Huffman trees per object), which at a million files is most of the pack
  // time. They are stored (level 0, 0.2 us); trees, few and large, are compressed.
  Deflater stored, compressed;
  VREPO_RETURN_IF_ERROR(stored.Init(0, 1));
  VREPO_RETURN_IF_ERROR(compressed.Init(1, 8));
  std::string_view packed;
  Status st;
  for (const git_oid& oid : oids) {
    void* data = nullptr;
    size_t len = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    err = source->read(&data, &len, &type, source, &oid);
    if (err < 0) return GitError(err, "reading object " + OidHex(oid) + " for a pack");
    unsigned char eh[16];
    size_t ehn = EncodeEntryHeader(type, len, eh);
    st = sink.Write(eh, ehn);
    if (st.ok()) {
      Deflater& d = type == GIT_OBJECT_BLOB && len < kStoreBelow ? stored : compressed;
      if (!d.Compress(data, len, &packed)) {
        st = Status::IOError("compressing object " + OidHex(oid) + " for a pack");
      } else {
        st = sink.Write(packed.data(), packed.size());
      }
    }
    git_odb_backend_data_free(source, data);
    VREPO_RETURN_IF_ERROR(st);
  }
  VREPO_RETURN_IF_ERROR(sink.Finish());
  // The pack backend learns of the new pack only on refresh.
  err = git_odb_refresh(dest);
  if (err < 0) return GitError(err, "refreshing the object database");
  return Status::OK();
}

}  // namespace vrepo::history_internal
