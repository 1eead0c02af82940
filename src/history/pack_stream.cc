#include "pack_stream.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "vrepo/util/file.h"

namespace vrepo::history_internal {
namespace {

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Writes pack bytes to a file in large writes, hashing them for the trailer and keeping the
// running CRC-32 that the .idx records for each entry.
class PackFileSink {
 public:
  PackFileSink(int fd, std::string path, EVP_MD_CTX* sha)
      : fd_(fd), path_(std::move(path)), sha_(sha) {
    buf_.reserve(kFlush);
  }
  Status Write(const void* data, size_t n) {
    buf_.append(static_cast<const char*>(data), n);
    entry_crc_ = crc32_z(entry_crc_, static_cast<const Bytef*>(data), n);
    size_ += n;
    if (buf_.size() >= kFlush) return Flush();
    return Status::OK();
  }
  // Starts a new entry: returns its offset and resets the entry CRC.
  uint64_t BeginEntry() {
    entry_crc_ = crc32_z(0, nullptr, 0);
    return size_;
  }
  uint32_t entry_crc() const { return static_cast<uint32_t>(entry_crc_); }
  // Appends the trailer (SHA-1 of everything before it) and returns it.
  Result<std::string> Finish() {
    VREPO_RETURN_IF_ERROR(Flush());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha_, digest, &len);
    std::string trailer(reinterpret_cast<char*>(digest), len);
    VREPO_RETURN_IF_ERROR(WriteAll(fd_, trailer, path_));
    return trailer;
  }

 private:
  Status Flush() {
    if (buf_.empty()) return Status::OK();
    EVP_DigestUpdate(sha_, buf_.data(), buf_.size());
    Status st = WriteAll(fd_, buf_, path_);
    buf_.clear();
    return st;
  }
  static constexpr size_t kFlush = 1 << 20;
  int fd_;
  std::string path_;
  EVP_MD_CTX* sha_;
  std::string buf_;
  uint64_t size_ = 0;
  uLong entry_crc_ = 0;
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

void PutBigEndian64(uint64_t v, unsigned char* out) {
  PutBigEndian32(static_cast<uint32_t>(v >> 32), out);
  PutBigEndian32(static_cast<uint32_t>(v), out + 4);
}

// The pack index, version 2 (git's gitformat-pack): fan-out table, sorted names, CRC-32s,
// offsets (31-bit, or an index into a table of 64-bit ones), the pack's and its own SHA-1.
std::string BuildIndexV2(const std::vector<git_oid>& oids, const std::vector<uint64_t>& offsets,
                         const std::vector<uint32_t>& crcs, const std::string& pack_sha) {
  std::vector<size_t> order(oids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return git_oid_cmp(&oids[a], &oids[b]) < 0; });
  std::string idx;
  auto put32 = [&](uint32_t v) {
    unsigned char b[4];
    PutBigEndian32(v, b);
    idx.append(reinterpret_cast<char*>(b), 4);
  };
  idx.append("\xfftOc", 4);
  put32(2);
  uint32_t fanout[256] = {0};
  for (const git_oid& oid : oids) ++fanout[oid.id[0]];
  uint32_t running = 0;
  for (uint32_t& f : fanout) {
    running += f;
    put32(running);
  }
  for (size_t i : order) idx.append(reinterpret_cast<const char*>(oids[i].id), GIT_OID_RAWSZ);
  for (size_t i : order) put32(crcs[i]);
  std::vector<uint64_t> large;
  for (size_t i : order) {
    if (offsets[i] < 0x80000000ull) {
      put32(static_cast<uint32_t>(offsets[i]));
    } else {
      put32(0x80000000u | static_cast<uint32_t>(large.size()));
      large.push_back(offsets[i]);
    }
  }
  for (uint64_t off : large) {
    unsigned char b[8];
    PutBigEndian64(off, b);
    idx.append(reinterpret_cast<char*>(b), 8);
  }
  idx += pack_sha;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(idx.data(), idx.size(), digest, &len, Sha1Md(), nullptr);
  idx.append(reinterpret_cast<char*>(digest), len);
  return idx;
}

// Renames a synced pack and its .idx from their temporary names to git's pack-<sha>.* names.
// The .idx makes a pack visible, so it is renamed in last, after the pack is durable.
Status InstallPack(const std::string& tmp_pack, const std::string& tmp_idx,
                   const std::string& pack_sha, const std::string& pack_dir) {
  git_oid pack_oid;
  git_oid_fromraw(&pack_oid, reinterpret_cast<const unsigned char*>(pack_sha.data()));
  std::string base = pack_dir + "/pack-" + OidHex(pack_oid);
  if (::rename(tmp_pack.c_str(), (base + ".pack").c_str()) != 0) {
    return Status::FromErrno("installing " + base + ".pack", errno);
  }
  {
    FileHandle idx_fd(::open(tmp_idx.c_str(), O_RDONLY | O_CLOEXEC));
    if (!idx_fd.valid() || ::fsync(idx_fd.get()) != 0) {
      return Status::FromErrno("syncing " + tmp_idx, errno);
    }
  }
  if (::rename(tmp_idx.c_str(), (base + ".idx").c_str()) != 0) {
    return Status::FromErrno("installing " + base + ".idx", errno);
  }
  return Status::OK();
}

}  // namespace

Status WritePackNoDelta(git_odb_backend* source, const std::vector<git_oid>& oids, git_odb* dest,
                        const std::string& pack_dir) {
  // The pack and its .idx are written here rather than through libgit2's indexer, which
  // re-inflates and re-hashes (SHA-1DC) every object we just wrote: a third of a commit.
  std::string tmp_pack = pack_dir + "/tmp_vrepo_" + std::to_string(::getpid()) + ".pack";
  std::string tmp_idx = pack_dir + "/tmp_vrepo_" + std::to_string(::getpid()) + ".idx";
  FileHandle fd(::open(tmp_pack.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444));
  if (!fd.valid()) return Status::FromErrno(tmp_pack, errno);
  struct Cleanup {
    std::string a, b;
    bool armed = true;
    ~Cleanup() {
      if (armed) {
        ::unlink(a.c_str());
        ::unlink(b.c_str());
      }
    }
  } cleanup{tmp_pack, tmp_idx};

  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> sha(EVP_MD_CTX_new());
  if (!sha || EVP_DigestInit_ex(sha.get(), Sha1Md(), nullptr) != 1) {
    return Status::IOError("starting a pack: OpenSSL SHA-1 unavailable");
  }
  PackFileSink sink(fd.get(), tmp_pack, sha.get());

  unsigned char header[12];
  std::copy_n("PACK", 4, header);  // a binary header: no terminator
  PutBigEndian32(2, header + 4);
  PutBigEndian32(static_cast<uint32_t>(oids.size()), header + 8);
  VREPO_RETURN_IF_ERROR(sink.Write(header, sizeof(header)));

  // Pointer blobs are ~80 bytes of hex: deflate level 1 would halve them but costs ~1.5 us
  // each (building Huffman trees per object), which at a million files is most of the pack
  // time. They are stored (level 0, 0.2 us); trees, few and large, are compressed.
  Deflater stored, compressed;
  VREPO_RETURN_IF_ERROR(stored.Init(0, 1));
  VREPO_RETURN_IF_ERROR(compressed.Init(1, 8));
  std::vector<uint64_t> offsets(oids.size());
  std::vector<uint32_t> crcs(oids.size());
  std::string_view packed;
  Status st;
  for (size_t i = 0; i < oids.size(); ++i) {
    const git_oid& oid = oids[i];
    void* data = nullptr;
    size_t len = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    int err = source->read(&data, &len, &type, source, &oid);
    if (err < 0) return GitError(err, "reading object " + OidHex(oid) + " for a pack");
    offsets[i] = sink.BeginEntry();
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
    crcs[i] = sink.entry_crc();
  }
  VREPO_ASSIGN_OR_RETURN(std::string pack_sha, sink.Finish());
  if (::fsync(fd.get()) != 0) return Status::FromErrno("syncing " + tmp_pack, errno);
  std::string idx = BuildIndexV2(oids, offsets, crcs, pack_sha);
  VREPO_RETURN_IF_ERROR(WriteFileAtomic(tmp_idx, idx, 0444, /*durable=*/false));

  VREPO_RETURN_IF_ERROR(InstallPack(tmp_pack, tmp_idx, pack_sha, pack_dir));
  cleanup.armed = false;
  VREPO_RETURN_IF_ERROR(SyncDir(pack_dir));
  // The pack backend learns of the new pack only on refresh.
  int err = git_odb_refresh(dest);
  if (err < 0) return GitError(err, "refreshing the object database");
  return Status::OK();
}

uint64_t MaxObjectSize(git_object_t type) {
  switch (type) {
    case GIT_OBJECT_BLOB:
      return kMaxPointerBlob;
    case GIT_OBJECT_TREE:
      return kMaxTree;
    case GIT_OBJECT_COMMIT:
    case GIT_OBJECT_TAG:
      return kMaxCommitOrTag;
    default:
      return 0;
  }
}

Status CheckObjectSize(git_odb* odb, const git_oid& oid) {
  size_t size = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  int err = git_odb_read_header(&size, &type, odb, &oid);
  if (err < 0) return GitError(err, "reading object " + OidHex(oid));
  const uint64_t limit = MaxObjectSize(type);
  if (size > limit) {
    return Status::Corruption("object " + OidHex(oid) + " is a " + git_object_type2string(type) +
                              " of " + std::to_string(size) + " bytes, over the limit of " +
                              std::to_string(limit));
  }
  return Status::OK();
}

Result<std::string> PackToString(git_odb* source, const std::vector<git_oid>& oids) {
  std::string out;
  unsigned char header[12];
  std::copy_n("PACK", 4, header);  // a binary header: no terminator
  PutBigEndian32(2, header + 4);
  PutBigEndian32(static_cast<uint32_t>(oids.size()), header + 8);
  out.append(reinterpret_cast<char*>(header), sizeof(header));
  Deflater stored, compressed;
  VREPO_RETURN_IF_ERROR(stored.Init(0, 1));
  VREPO_RETURN_IF_ERROR(compressed.Init(1, 8));
  std::string_view packed;
  for (const git_oid& oid : oids) {
    VREPO_RETURN_IF_ERROR(CheckObjectSize(source, oid));
    git_odb_object* raw = nullptr;
    int err = git_odb_read(&raw, source, &oid);
    if (err < 0) return GitError(err, "reading object " + OidHex(oid) + " for a pack");
    GitPtr<git_odb_object> obj(raw);
    git_object_t type = git_odb_object_type(obj.get());
    size_t len = git_odb_object_size(obj.get());
    unsigned char eh[16];
    out.append(reinterpret_cast<char*>(eh), EncodeEntryHeader(type, len, eh));
    Deflater& d = type == GIT_OBJECT_BLOB && len < kStoreBelow ? stored : compressed;
    if (!d.Compress(git_odb_object_data(obj.get()), len, &packed)) {
      return Status::IOError("compressing object " + OidHex(oid) + " for a pack");
    }
    out.append(packed);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(out.data(), out.size(), digest, &len, Sha1Md(), nullptr);
  out.append(reinterpret_cast<char*>(digest), len);
  return out;
}

Status CheckReceivedPack(std::string_view pack) {
  auto bad = [](uint64_t at, const std::string& why) {
    return Status::Corruption("received git pack: object at offset " + std::to_string(at) + ": " +
                              why);
  };
  constexpr size_t kHeader = 12, kTrailer = 20;
  if (pack.size() < kHeader + kTrailer) return Status::Corruption("received git pack is truncated");
  const auto* p = reinterpret_cast<const unsigned char*>(pack.data());
  uint32_t count = uint32_t{p[8]} << 24 | uint32_t{p[9]} << 16 | uint32_t{p[10]} << 8 | p[11];
  const size_t end = pack.size() - kTrailer;
  size_t at = kHeader;
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Status::IOError("zlib: cannot start inflating");
  std::unique_ptr<z_stream, int (*)(z_stream*)> zguard(&z, inflateEnd);
  unsigned char out[16384];
  for (uint32_t i = 0; i < count; ++i) {
    const size_t start = at;
    if (at >= end) return bad(start, "past the end of the pack");
    unsigned type = (p[at] >> 4) & 7;
    uint64_t size = p[at] & 15;
    unsigned shift = 4;
    while (p[at++] & 0x80) {
      if (at >= end || shift > 57) return bad(start, "malformed size");
      size |= uint64_t{p[at] & 0x7fu} << shift;
      shift += 7;
    }
    uint64_t limit = MaxObjectSize(static_cast<git_object_t>(type));
    if (limit == 0) {
      return bad(start, type == 6 || type == 7 ? "is a delta, which vrepo never sends"
                                               : "has unknown type " + std::to_string(type));
    }
    if (size > limit) {
      return bad(start, "declares " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(limit) + " for a " +
                            git_object_type2string(static_cast<git_object_t>(type)));
    }
    inflateReset(&z);
    z.next_in = const_cast<unsigned char*>(p + at);
    z.avail_in = static_cast<uInt>(std::min<size_t>(end - at, UINT32_MAX));
    uint64_t produced = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      z.next_out = out;
      z.avail_out = sizeof(out);
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) return bad(start, "does not inflate");
      produced += sizeof(out) - z.avail_out;
      if (produced > size) return bad(start, "inflates past its declared size");
      if (rc == Z_OK && z.avail_in == 0) return bad(start, "is truncated");
    }
    if (produced != size) return bad(start, "inflates short of its declared size");
    at = static_cast<size_t>(reinterpret_cast<const unsigned char*>(z.next_in) - p);
  }
  if (at != end) return Status::Corruption("received git pack has bytes after its last object");
  return Status::OK();
}

}  // namespace vrepo::history_internal
