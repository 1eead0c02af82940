#include "vrepo/store/object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "vrepo/store/chunker.h"
#include "vrepo/util/file.h"
#include "vrepo/util/little_endian.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace {

// ---- On-disk layout (docs/formats.md has the tables) ----------------------------------
// Pack file: 16-byte header "VRPK", u32 version, 8 reserved zero bytes; then records.
constexpr char kPackMagic[4] = {'V', 'R', 'P', 'K'};
constexpr uint32_t kPackVersion = 1;
constexpr size_t kPackHeaderSize = 16;
// Record: "VRec", id[32], codec u8, raw size u64, stored size u64, crc32 of the payload,
// crc32 of the 57 header bytes before it; then the payload. Integers are little-endian.
constexpr char kRecordMagic[4] = {'V', 'R', 'e', 'c'};
constexpr size_t kRecordHeaderSize = 61;
// Index value of 'o' + id: version u8, codec u8, pack u32, offset u64, stored u64, raw u64;
// a chunked object follows with u32 count and count x (id[32], size u64).
constexpr uint8_t kLocationVersion = 1;
constexpr size_t kLocationSize = 30;
constexpr size_t kChunkRefSize = 40;
constexpr char kFormatKey[] = "mstore.format";
constexpr char kFormatValue[] = "1";

// Small records are gathered so that a million tiny objects are not a million syscalls.
constexpr size_t kWriteBufferSize = 1 << 20;
// Payloads at least this large skip the buffer and go straight to the file.
constexpr size_t kDirectWriteSize = 256 << 10;
// PutFile reads big files through a window this large (it must exceed max chunk size).
constexpr size_t kReadWindow = 8 << 20;
// zstd cannot expand more than this (an RLE block of 128 KiB takes 4 bytes), so a larger
// claimed raw size is corruption, not an allocation to attempt.
constexpr uint64_t kMaxZstdRatio = 1 << 16;

uint32_t Crc32(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string ObjectKey(const ContentId& id) {
  std::string key(1, key_prefix::kObject);
  key.append(id.Raw());
  return key;
}

std::string PackName(uint32_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "pack-%08u.vpk", number);
  return buf;
}

bool ParsePackName(const char* name, uint32_t* number) {
  std::string_view n(name);
  if (n.size() < 14 || n.substr(0, 5) != "pack-" || n.substr(n.size() - 4) != ".vpk") return false;
  std::string_view digits = n.substr(5, n.size() - 9);
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > UINT32_MAX) return false;
  }
  *number = static_cast<uint32_t>(v);
  return true;
}

struct RecordHeader {
  ContentId id;
  uint8_t codec = 0;
  uint64_t raw_size = 0;
  uint64_t stored_size = 0;
  uint32_t payload_crc = 0;
};

void EncodeRecordHeader(const RecordHeader& h, char* out) {
  std::memcpy(out, kRecordMagic, 4);
  std::memcpy(out + 4, h.id.bytes.data(), 32);
  out[36] = static_cast<char>(h.codec);
  PutU64(out + 37, h.raw_size);
  PutU64(out + 45, h.stored_size);
  PutU32(out + 53, h.payload_crc);
  PutU32(out + 57, Crc32(std::string_view(out, 57)));
}

std::string Where(const std::string& pack_path, uint64_t offset) {
  return pack_path + " at offset " + std::to_string(offset);
}

// Parses the record header at `offset` and checks that its payload lies inside `pack`.
Status DecodeRecordHeader(std::string_view pack, uint64_t offset, const std::string& pack_path,
                          RecordHeader* h) {
  if (offset < kPackHeaderSize || offset > pack.size() ||
      pack.size() - offset < kRecordHeaderSize) {
    return Status::Corruption("record header past the end of " + Where(pack_path, offset));
  }
  const char* p = pack.data() + offset;
  if (std::memcmp(p, kRecordMagic, 4) != 0) {
    return Status::Corruption("no record marker in " + Where(pack_path, offset));
  }
  if (GetU32(p + 57) != Crc32(std::string_view(p, 57))) {
    return Status::Corruption("record header checksum mismatch in " + Where(pack_path, offset));
  }
  std::memcpy(h->id.bytes.data(), p + 4, 32);
  h->codec = static_cast<uint8_t>(p[36]);
  h->raw_size = GetU64(p + 37);
  h->stored_size = GetU64(p + 45);
  h->payload_crc = GetU32(p + 53);
  if (h->codec > static_cast<uint8_t>(ObjectLocation::Codec::kZstd)) {
    return Status::Corruption("unknown codec " + std::to_string(h->codec) + " in " +
                              Where(pack_path, offset));
  }
  if (h->stored_size > pack.size() - offset - kRecordHeaderSize) {
    return Status::Corruption("record of " + std::to_string(h->stored_size) +
                              " bytes runs past the end of " + Where(pack_path, offset));
  }
  return Status::OK();
}

std::string EncodeLocation(const ObjectLocation& loc, const std::vector<ChunkRef>* chunks) {
  std::string v(kLocationSize, '\0');
  v[0] = static_cast<char>(kLocationVersion);
  v[1] = static_cast<char>(loc.codec);
  PutU32(v.data() + 2, loc.pack);
  PutU64(v.data() + 6, loc.offset);
  PutU64(v.data() + 14, loc.stored_size);
  PutU64(v.data() + 22, loc.raw_size);
  if (chunks) {
    char buf[kChunkRefSize];
    PutU32(buf, static_cast<uint32_t>(chunks->size()));
    v.append(buf, 4);
    for (const ChunkRef& c : *chunks) {
      std::memcpy(buf, c.id.bytes.data(), 32);
      PutU64(buf + 32, c.size);
      v.append(buf, kChunkRefSize);
    }
  }
  return v;
}

Status DecodeLocation(std::string_view v, const ContentId& id, ObjectLocation* loc,
                      std::vector<ChunkRef>* chunks) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("index entry of object " + id.Hex() + ": " + why);
  };
  if (v.size() < kLocationSize) return bad("too short");
  if (static_cast<uint8_t>(v[0]) != kLocationVersion) {
    return bad("format version " + std::to_string(static_cast<uint8_t>(v[0])) +
               " is not understood by this vrepo");
  }
  uint8_t codec = static_cast<uint8_t>(v[1]);
  if (codec > static_cast<uint8_t>(ObjectLocation::Codec::kChunked)) {
    return bad("unknown codec " + std::to_string(codec));
  }
  loc->codec = static_cast<ObjectLocation::Codec>(codec);
  loc->pack = GetU32(v.data() + 2);
  loc->offset = GetU64(v.data() + 6);
  loc->stored_size = GetU64(v.data() + 14);
  loc->raw_size = GetU64(v.data() + 22);
  if (loc->codec != ObjectLocation::Codec::kChunked) {
    if (v.size() != kLocationSize) return bad("trailing bytes");
    return Status::OK();
  }
  if (v.size() < kLocationSize + 4) return bad("chunk list missing");
  uint32_t count = GetU32(v.data() + kLocationSize);
  if (v.size() != kLocationSize + 4 + uint64_t{count} * kChunkRefSize) {
    return bad("chunk list has the wrong length");
  }
  if (!chunks) return Status::OK();
  chunks->clear();
  chunks->reserve(count);
  uint64_t total = 0;
  const char* p = v.data() + kLocationSize + 4;
  for (uint32_t i = 0; i < count; ++i, p += kChunkRefSize) {
    ChunkRef c;
    std::memcpy(c.id.bytes.data(), p, 32);
    c.size = GetU64(p + 32);
    total += c.size;
    chunks->push_back(c);
  }
  if (total != loc->raw_size) return bad("chunk sizes do not add up to the object size");
  return Status::OK();
}

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

// Per-thread scratch for compressed or decompressed bytes; trimmed after huge objects so a
// pool thread does not keep hundreds of megabytes.
std::string& ThreadScratch() {
  thread_local std::string scratch;
  return scratch;
}
void TrimScratch(std::string& s) {
  if (s.capacity() > (64u << 20)) std::string().swap(s);
}

}  // namespace

bool IsCompressedFormat(std::string_view data) {
  // Image datasets are mostly PNG and JPEG: trying zstd on each was a fifth of `add`'s CPU
  // for Fashion-MNIST and gained nothing.
  static constexpr std::string_view kMagics[] = {
      std::string_view("\x89PNG\r\n\x1a\n", 8),  // PNG
      std::string_view("\xff\xd8\xff", 3),       // JPEG
      std::string_view("\x1f\x8b", 2),           // gzip
      std::string_view("\x28\xb5\x2f\xfd", 4),   // zstd
      std::string_view("PK\x03\x04", 4),         // zip
  };
  for (std::string_view magic : kMagics) {
    if (data.substr(0, magic.size()) == magic) return true;
  }
  return false;
}

namespace {

// The numbers of the pack files in `packs_dir`, ascending.
Result<std::vector<uint32_t>> ListPackNumbers(const std::string& packs_dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(packs_dir.c_str()), ::closedir);
  if (!dir) return Status::FromErrno(packs_dir, errno);
  std::vector<uint32_t> numbers;
  while (dirent* e = ::readdir(dir.get())) {
    uint32_t n;
    if (ParsePackName(e->d_name, &n)) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

}  // namespace

// ---- ObjectStore::Impl ------------------------------------------------------------------

struct ObjectStore::Impl {
  std::string vrepo_dir;
  std::string packs_dir;
  bool read_only = false;
  StoreOptions options;
  std::unique_ptr<IndexDb> index;
  std::atomic<int> active_writers{0};

  mutable std::shared_mutex packs_mu;
  mutable std::unordered_map<uint32_t, std::shared_ptr<const MappedFile>> packs;

  std::string PackPath(uint32_t number) const { return JoinPath(packs_dir, PackName(number)); }

  Result<std::shared_ptr<const MappedFile>> MapPack(uint32_t number) const {
    {
      std::shared_lock lock(packs_mu);
      auto it = packs.find(number);
      if (it != packs.end()) return it->second;
    }
    auto opened = MappedFile::Open(PackPath(number));
    if (!opened.ok()) {
      // The index names this pack, so its absence is damage, not a missing object.
      if (opened.status().code() == Status::Code::kNotFound) {
        return Status::Corruption("pack file named by the index is missing: " + PackPath(number));
      }
      return opened.status();
    }
    auto mapped = std::make_shared<const MappedFile>(std::move(opened).value());
    std::unique_lock lock(packs_mu);
    auto [it, inserted] = packs.emplace(number, std::move(mapped));
    return it->second;
  }

  void ForgetPacks() {
    std::unique_lock lock(packs_mu);
    packs.clear();
  }

  Result<std::vector<uint32_t>> ListPacks() const { return ListPackNumbers(packs_dir); }

  Status Locate(const ContentId& id, ObjectLocation* loc, std::vector<ChunkRef>* chunks) const {
    auto value = index->Get(ObjectKey(id));
    if (!value.ok()) {
      if (value.status().code() == Status::Code::kNotFound) {
        return Status::NotFound("object " + id.Hex() + " is not in the store");
      }
      return value.status();
    }
    return DecodeLocation(*value, id, loc, chunks);
  }

  // Returns the stored payload of a packed object after checking its record header against
  // the index. `hold` keeps the mapping alive while the view is used.
  Result<std::string_view> Payload(const ContentId& id, const ObjectLocation& loc,
                                   std::shared_ptr<const MappedFile>* hold,
                                   RecordHeader* header) const {
    VREPO_ASSIGN_OR_RETURN(*hold, MapPack(loc.pack));
    const std::string& path = (*hold)->path();
    std::string_view pack = (*hold)->data();
    auto bad = [&](const std::string& why) {
      return Status::Corruption("object " + id.Hex() + " in " + Where(path, loc.offset) + ": " +
                                why);
    };
    if (pack.size() < kPackHeaderSize || std::memcmp(pack.data(), kPackMagic, 4) != 0) {
      return Status::Corruption("not a vrepo pack file: " + path);
    }
    if (GetU32(pack.data() + 4) != kPackVersion) {
      return Status::Corruption("pack format version " + std::to_string(GetU32(pack.data() + 4)) +
                                " is not understood by this vrepo: " + path);
    }
    Status st = DecodeRecordHeader(pack, loc.offset, path, header);
    if (!st.ok()) return st.WithContext("object " + id.Hex());
    if (header->id != id) return bad("the record holds object " + header->id.Hex());
    if (header->codec != static_cast<uint8_t>(loc.codec) || header->raw_size != loc.raw_size ||
        header->stored_size != loc.stored_size) {
      return bad("record header disagrees with the index");
    }
    if (loc.codec == ObjectLocation::Codec::kRaw && loc.raw_size != loc.stored_size) {
      return bad("raw record with differing sizes");
    }
    if (loc.codec == ObjectLocation::Codec::kZstd &&
        loc.raw_size / kMaxZstdRatio > loc.stored_size) {
      return bad("implausible raw size " + std::to_string(loc.raw_size));
    }
    return pack.substr(loc.offset + kRecordHeaderSize, loc.stored_size);
  }

  // The object's bytes, verified against `id`: a view into the pack for raw records, or
  // into `scratch` for compressed ones.
  Result<std::string_view> ReadPacked(const ContentId& id, const ObjectLocation& loc,
                                      bool check_crc, std::shared_ptr<const MappedFile>* hold,
                                      std::string* scratch) const {
    RecordHeader header;
    VREPO_ASSIGN_OR_RETURN(std::string_view payload, Payload(id, loc, hold, &header));
    const std::string& path = (*hold)->path();
    auto bad = [&](const std::string& why) {
      return Status::Corruption("object " + id.Hex() + " in " + Where(path, loc.offset) + ": " +
                                why);
    };
    if (check_crc && Crc32(payload) != header.payload_crc) {
      return bad("stored bytes fail their checksum (the pack file is damaged)");
    }
    std::string_view bytes = payload;
    if (loc.codec == ObjectLocation::Codec::kZstd) {
      scratch->resize(loc.raw_size);
      size_t n = ZSTD_decompressDCtx(ThreadDCtx(), scratch->data(), scratch->size(), payload.data(),
                                     payload.size());
      if (ZSTD_isError(n)) return bad(std::string("zstd: ") + ZSTD_getErrorName(n));
      if (n != loc.raw_size) return bad("decompressed to the wrong size");
      bytes = *scratch;
    }
    if (ContentId::Of(bytes) != id) return bad("bytes do not match their content id");
    return bytes;
  }

  // Calls fn with each verified chunk of a chunked object, then checks the whole-file id.
  Status ForEachChunk(const ContentId& id, const std::vector<ChunkRef>& chunks,
                      const std::function<Status(std::string_view)>& fn) const {
    Sha256 whole;
    std::string& scratch = ThreadScratch();
    for (const ChunkRef& c : chunks) {
      ObjectLocation cloc;
      Status st = Locate(c.id, &cloc, nullptr);
      if (!st.ok()) return st.WithContext("chunk of object " + id.Hex());
      if (cloc.codec == ObjectLocation::Codec::kChunked || cloc.raw_size != c.size) {
        return Status::Corruption("object " + id.Hex() + ": chunk " + c.id.Hex() +
                                  " is not the size its chunk list says");
      }
      std::shared_ptr<const MappedFile> hold;
      VREPO_ASSIGN_OR_RETURN(std::string_view bytes,
                             ReadPacked(c.id, cloc, false, &hold, &scratch));
      whole.Update(bytes);
      VREPO_RETURN_IF_ERROR(fn(bytes));
    }
    TrimScratch(scratch);
    if (whole.Finish() != id) {
      return Status::Corruption("object " + id.Hex() + ": its chunks do not add up to its id");
    }
    return Status::OK();
  }
};

// ---- PackWriter -----------------------------------------------------------------------

struct PackWriter::Impl {
  ObjectStore::Impl* store = nullptr;
  uint32_t number = 0;
  std::string path;
  std::optional<AppendFile> file;

  std::mutex mu;
  std::string buffer;
  uint64_t end = 0;  // pack size including what is still buffered
  Status error;      // sticky: after a failed write nothing more is written
  bool committed = false;
  bool unlinked = false;
  uint64_t records = 0;
  std::unordered_set<ContentId, ContentIdHash> claimed;
  std::unordered_map<ContentId, ObjectLocation, ContentIdHash> written;
  std::unordered_map<ContentId, std::string, ContentIdHash> chunked;

  ~Impl() {
    if (!committed && !unlinked) {
      file.reset();
      ::unlink(path.c_str());
    }
    store->active_writers.fetch_sub(1);
  }

  Status FlushLocked() {
    if (buffer.empty()) return Status::OK();
    Status st = file->Append(buffer);
    buffer.clear();
    if (!st.ok()) error = st;
    return st;
  }

  Status AppendLocked(std::string_view header, std::string_view payload) {
    buffer.append(header);
    if (payload.size() >= kDirectWriteSize) {
      VREPO_RETURN_IF_ERROR(FlushLocked());
      Status st = file->Append(payload);
      if (!st.ok()) return error = st;
    } else {
      buffer.append(payload);
      if (buffer.size() >= kWriteBufferSize) VREPO_RETURN_IF_ERROR(FlushLocked());
    }
    end += header.size() + payload.size();
    return Status::OK();
  }

  Status Usable() const {
    if (!error.ok()) return error;
    if (committed) return Status::InvalidArgument("pack writer " + path + " already committed");
    return Status::OK();
  }

  // True when `id` is already stored or being stored; otherwise claims it for the caller.
  Result<bool> Claim(const ContentId& id, bool check_index) {
    {
      std::lock_guard lock(mu);
      VREPO_RETURN_IF_ERROR(Usable());
      if (claimed.count(id)) return true;
    }
    if (check_index) {
      auto v = store->index->Get(ObjectKey(id));
      if (v.ok()) return true;
      if (v.status().code() != Status::Code::kNotFound) return v.status();
    }
    std::lock_guard lock(mu);
    return !claimed.insert(id).second;
  }

  // Appends one record for a claimed id.
  Status AppendRecord(const ContentId& id, ObjectLocation::Codec codec, uint64_t raw_size,
                      std::string_view payload, uint32_t crc) {
    RecordHeader h;
    h.id = id;
    h.codec = static_cast<uint8_t>(codec);
    h.raw_size = raw_size;
    h.stored_size = payload.size();
    h.payload_crc = crc;
    char header[kRecordHeaderSize];
    EncodeRecordHeader(h, header);
    std::lock_guard lock(mu);
    VREPO_RETURN_IF_ERROR(Usable());
    ObjectLocation loc;
    loc.pack = number;
    loc.offset = end;
    loc.stored_size = payload.size();
    loc.raw_size = raw_size;
    loc.codec = codec;
    VREPO_RETURN_IF_ERROR(AppendLocked(std::string_view(header, sizeof(header)), payload));
    written.emplace(id, loc);
    ++records;
    return Status::OK();
  }

  Status StoreBlob(const ContentId& id, std::string_view data) {
    VREPO_ASSIGN_OR_RETURN(bool present, Claim(id, true));
    if (present) return Status::OK();
    if (IsCompressedFormat(data)) {
      return AppendRecord(id, ObjectLocation::Codec::kRaw, data.size(), data, Crc32(data));
    }
    // Compression runs outside the lock so that many threads compress at once.
    std::string& scratch = ThreadScratch();
    scratch.resize(ZSTD_compressBound(data.size()));
    size_t n = ZSTD_compressCCtx(ThreadCCtx(), scratch.data(), scratch.size(), data.data(),
                                 data.size(), store->options.zstd_level);
    Status st;
    if (!ZSTD_isError(n) && n < data.size()) {
      std::string_view payload(scratch.data(), n);
      st = AppendRecord(id, ObjectLocation::Codec::kZstd, data.size(), payload, Crc32(payload));
    } else {
      st = AppendRecord(id, ObjectLocation::Codec::kRaw, data.size(), data, Crc32(data));
    }
    TrimScratch(scratch);
    return st;
  }

  Status PutLargeFile(int fd, const std::string& file_path, ContentId* id, uint64_t* size) {
    ChunkerOptions copts;
    std::string window;
    window.reserve(kReadWindow);
    std::vector<ChunkRef> chunks;
    Sha256 whole;
    uint64_t total = 0;
    bool eof = false;
    while (true) {
      while (!eof && window.size() < kReadWindow) {
        size_t old = window.size();
        window.resize(kReadWindow);
        ssize_t n = ::read(fd, window.data() + old, kReadWindow - old);
        if (n < 0 && errno == EINTR) {
          window.resize(old);
          continue;
        }
        if (n < 0) return Status::FromErrno("reading " + file_path, errno);
        window.resize(old + static_cast<size_t>(n));
        if (n == 0) eof = true;
      }
      std::string_view rest(window);
      // Cut only where the chunker sees as much data as it would in the whole file.
      while (!rest.empty() && (eof || rest.size() >= copts.max_size)) {
        size_t len = NextChunkLength(rest, copts);
        std::string_view chunk = rest.substr(0, len);
        whole.Update(chunk);
        ContentId cid = ContentId::Of(chunk);
        VREPO_RETURN_IF_ERROR(StoreBlob(cid, chunk));
        chunks.push_back({cid, len});
        total += len;
        rest.remove_prefix(len);
      }
      window.erase(0, window.size() - rest.size());
      if (eof && window.empty()) break;
    }
    *id = whole.Finish();
    *size = total;
    VREPO_ASSIGN_OR_RETURN(bool present, Claim(*id, true));
    if (present) return Status::OK();
    ObjectLocation loc;
    loc.codec = ObjectLocation::Codec::kChunked;
    loc.raw_size = total;
    std::string value = EncodeLocation(loc, &chunks);
    std::lock_guard lock(mu);
    chunked.emplace(*id, std::move(value));
    return Status::OK();
  }
};

PackWriter::PackWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PackWriter::~PackWriter() = default;

Result<ContentId> PackWriter::Put(std::string_view data) {
  ContentId id = ContentId::Of(data);
  VREPO_RETURN_IF_ERROR(impl_->StoreBlob(id, data));
  return id;
}

Status PackWriter::PutVerified(const ContentId& id, ObjectLocation::Codec codec,
                               uint64_t raw_size, std::string_view stored,
                               const std::vector<ChunkRef>& chunks) {
  Impl& w = *impl_;
  if (codec == ObjectLocation::Codec::kChunked) {
    uint64_t total = 0;
    for (const ChunkRef& c : chunks) {
      if (!Has(c.id)) {
        return Status::InvalidArgument("object " + id.Hex() + ": its chunk " + c.id.Hex() +
                                       " is not stored");
      }
      total += c.size;
    }
    if (total != raw_size) {
      return Status::InvalidArgument("object " + id.Hex() +
                                     ": chunk sizes do not add up to its size");
    }
    VREPO_ASSIGN_OR_RETURN(bool present, w.Claim(id, true));
    if (present) return Status::OK();
    ObjectLocation loc;
    loc.codec = ObjectLocation::Codec::kChunked;
    loc.raw_size = raw_size;
    std::string value = EncodeLocation(loc, &chunks);
    std::lock_guard lock(w.mu);
    w.chunked.emplace(id, std::move(value));
    return Status::OK();
  }
  if (codec != ObjectLocation::Codec::kRaw && codec != ObjectLocation::Codec::kZstd) {
    return Status::InvalidArgument("object " + id.Hex() + ": unknown codec");
  }
  VREPO_ASSIGN_OR_RETURN(bool present, w.Claim(id, true));
  if (present) return Status::OK();
  return w.AppendRecord(id, codec, raw_size, stored, Crc32(stored));
}

bool PackWriter::Has(const ContentId& id) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->claimed.count(id)) return true;
  }
  return impl_->store->index->Get(ObjectKey(id)).ok();
}

Result<std::pair<ContentId, uint64_t>> PackWriter::PutFile(const std::string& path) {
  FileHandle fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) < impl_->store->options.chunk_threshold) {
    fd = FileHandle();
    VREPO_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    VREPO_ASSIGN_OR_RETURN(ContentId id, Put(data));
    return std::make_pair(id, static_cast<uint64_t>(data.size()));
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  ContentId id;
  uint64_t size = 0;
  VREPO_RETURN_IF_ERROR(impl_->PutLargeFile(fd.get(), path, &id, &size));
  return std::make_pair(id, size);
}

Status PackWriter::Commit(IndexBatch* extra) {
  Impl& w = *impl_;
  std::lock_guard lock(w.mu);
  VREPO_RETURN_IF_ERROR(w.Usable());
  VREPO_RETURN_IF_ERROR(w.FlushLocked());
  if (w.records > 0) {
    // The pack must be durable before the index names it; otherwise a crash could leave
    // index entries pointing at bytes that never reached the disk.
    Status st = w.file->Sync();
    if (st.ok()) st = SyncDir(w.store->packs_dir);
    if (!st.ok()) return w.error = st;
  } else {
    w.file.reset();
    ::unlink(w.path.c_str());
    w.unlinked = true;
  }
  // Keys go in in ascending order (object ids sorted, then the caller's keys, which sort
  // after 'o'): RocksDB's memtable inserts sequential keys through a cached splice, and
  // random ones cost a full skiplist search each, a tenth of an add's CPU.
  std::vector<std::pair<std::string, std::string>> objects;
  objects.reserve(w.written.size() + w.chunked.size());
  for (const auto& [id, loc] : w.written)
    objects.emplace_back(ObjectKey(id), EncodeLocation(loc, nullptr));
  for (const auto& [id, value] : w.chunked) objects.emplace_back(ObjectKey(id), value);
  std::sort(objects.begin(), objects.end());
  IndexBatch batch;
  for (const auto& [key, value] : objects) batch.Put(key, value);
  objects.clear();
  objects.shrink_to_fit();
  if (extra) {
    Status copied = batch.Append(*extra);
    if (!copied.ok()) return w.error = copied;
  }
  if (batch.Count() > 0) {
    Status st = w.store->index->Write(&batch, /*sync=*/true);
    if (!st.ok()) return w.error = st;
  }
  w.committed = true;
  return Status::OK();
}

// ---- ObjectStore ----------------------------------------------------------------------

ObjectStore::ObjectStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectStore::~ObjectStore() = default;

Status ObjectStore::Create(const std::string& vrepo_dir) {
  VREPO_RETURN_IF_ERROR(MakeDirs(JoinPath(vrepo_dir, "objects/packs")));
  VREPO_ASSIGN_OR_RETURN(auto index, IndexDb::Open(JoinPath(vrepo_dir, "index"), false, true));
  IndexBatch batch;
  batch.Put(kFormatKey, kFormatValue);
  return index->Write(&batch, true);
}

Result<IndexRebuildReport> ObjectStore::RebuildIndex(const std::string& vrepo_dir) {
  const std::string index_dir = JoinPath(vrepo_dir, "index");
  const std::string fresh_dir = JoinPath(vrepo_dir, "index.rebuild");
  const std::string packs_dir = JoinPath(vrepo_dir, "objects/packs");
  IndexRebuildReport report;
  // Built beside the old index and swapped in by renames, so a crash leaves one or the other.
  VREPO_RETURN_IF_ERROR(RemoveTree(fresh_dir));
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<IndexDb> index, IndexDb::Open(fresh_dir, false, true));
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, ListPackNumbers(packs_dir));
  for (uint32_t number : numbers) {
    const std::string path = JoinPath(packs_dir, PackName(number));
    VREPO_ASSIGN_OR_RETURN(MappedFile pack, MappedFile::Open(path));
    std::string_view bytes = pack.data();
    if (bytes.size() < kPackHeaderSize || std::memcmp(bytes.data(), kPackMagic, 4) != 0 ||
        GetU32(bytes.data() + 4) != kPackVersion) {
      report.problems.push_back(path + ": not a pack file of version " +
                                std::to_string(kPackVersion) + "; skipped");
      continue;
    }
    ++report.packs;
    // Records are not self-delimiting past a damaged header, so the scan of a pack ends at
    // the first record that does not check out; what follows is reported, not guessed at.
    std::vector<std::pair<std::string, std::string>> entries;
    uint64_t offset = kPackHeaderSize;
    while (offset < bytes.size()) {
      RecordHeader h;
      Status st = DecodeRecordHeader(bytes, offset, path, &h);
      if (st.ok() && h.codec == static_cast<uint8_t>(ObjectLocation::Codec::kChunked)) {
        st = Status::Corruption("chunked codec in a pack record in " + Where(path, offset));
      }
      if (st.ok() && Crc32(bytes.substr(offset + kRecordHeaderSize, h.stored_size)) !=
                         h.payload_crc) {
        st = Status::Corruption("payload checksum mismatch in " + Where(path, offset));
      }
      if (!st.ok()) {
        report.problems.push_back(st.message() + "; the " + std::to_string(bytes.size() - offset) +
                                  " bytes from there on were not indexed");
        break;
      }
      ObjectLocation loc;
      loc.codec = static_cast<ObjectLocation::Codec>(h.codec);
      loc.pack = number;
      loc.offset = offset;
      loc.stored_size = h.stored_size;
      loc.raw_size = h.raw_size;
      entries.emplace_back(ObjectKey(h.id), EncodeLocation(loc, nullptr));
      offset += kRecordHeaderSize + h.stored_size;
    }
    // An object in two packs (a gc interrupted before it deleted the old ones) keeps the copy
    // in the earlier pack, the one its first writer made visible.
    IndexBatch batch;
    for (const auto& [key, value] : entries) {
      if (index->Get(key).ok()) continue;
      batch.Put(key, value);
      ++report.objects;
    }
    VREPO_RETURN_IF_ERROR(index->Write(&batch, false));
  }
  IndexBatch batch;
  batch.Put(kFormatKey, kFormatValue);
  VREPO_RETURN_IF_ERROR(index->Write(&batch, /*sync=*/true));
  index.reset();

  if (IsDir(index_dir)) {
    report.old_index = index_dir + ".damaged";
    for (int n = 2; IsDir(report.old_index); ++n) {
      report.old_index = index_dir + ".damaged-" + std::to_string(n);
    }
    if (::rename(index_dir.c_str(), report.old_index.c_str()) != 0) {
      return Status::FromErrno("moving " + index_dir + " aside", errno);
    }
  }
  if (::rename(fresh_dir.c_str(), index_dir.c_str()) != 0) {
    return Status::FromErrno("moving " + fresh_dir + " into place", errno);
  }
  VREPO_RETURN_IF_ERROR(SyncDir(vrepo_dir));
  return report;
}

Result<std::unique_ptr<ObjectStore>> ObjectStore::Open(const std::string& vrepo_dir, bool read_only,
                                                       StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->vrepo_dir = vrepo_dir;
  impl->packs_dir = JoinPath(vrepo_dir, "objects/packs");
  impl->read_only = read_only;
  impl->options = options;
  if (!read_only) VREPO_RETURN_IF_ERROR(MakeDirs(impl->packs_dir));
  VREPO_ASSIGN_OR_RETURN(impl->index, IndexDb::Open(JoinPath(vrepo_dir, "index"), read_only));
  auto format = impl->index->Get(kFormatKey);
  if (format.ok() && *format != kFormatValue) {
    return Status::InvalidArgument("store " + vrepo_dir + " has format " + *format +
                                   ", which this vrepo does not understand [upgrade vrepo]");
  }
  if (!format.ok() && !read_only) {
    IndexBatch batch;
    batch.Put(kFormatKey, kFormatValue);
    VREPO_RETURN_IF_ERROR(impl->index->Write(&batch, true));
  }
  if (read_only) {
    // Map every pack now: a gc by the writer may delete packs this reader's index snapshot
    // still names, and an existing mapping keeps their bytes readable.
    auto numbers = impl->ListPacks();
    if (numbers.ok()) {
      for (uint32_t n : *numbers) (void)impl->MapPack(n);
    }
  }
  return std::unique_ptr<ObjectStore>(new ObjectStore(std::move(impl)));
}

IndexDb& ObjectStore::index() { return *impl_->index; }
const StoreOptions& ObjectStore::options() const { return impl_->options; }

Result<std::unique_ptr<PackWriter>> ObjectStore::NewWriter() {
  if (impl_->read_only)
    return Status::InvalidArgument("store " + impl_->vrepo_dir + " is read-only");
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, impl_->ListPacks());
  uint32_t number = numbers.empty() ? 1 : numbers.back() + 1;
  auto w = std::make_unique<PackWriter::Impl>();
  w->store = impl_.get();
  impl_->active_writers.fetch_add(1);
  // A fresh file per session (O_EXCL): a torn tail left by a killed writer is never
  // followed by valid records, and old packs are never modified.
  for (int attempt = 0;; ++attempt) {
    std::string path = impl_->PackPath(number);
    auto file = AppendFile::Open(path, /*create=*/true);
    if (file.ok()) {
      w->number = number;
      w->path = path;
      w->file.emplace(std::move(file).value());
      break;
    }
    struct stat st;
    if (attempt > 1000 || ::stat(path.c_str(), &st) != 0) {
      w->unlinked = true;
      return file.status().WithContext("creating pack file");
    }
    ++number;
  }
  char header[kPackHeaderSize] = {};
  std::memcpy(header, kPackMagic, 4);
  PutU32(header + 4, kPackVersion);
  w->buffer.reserve(kWriteBufferSize + kDirectWriteSize + kRecordHeaderSize);
  w->buffer.assign(header, sizeof(header));
  w->end = sizeof(header);
  return std::unique_ptr<PackWriter>(new PackWriter(std::move(w)));
}

bool ObjectStore::Contains(const ContentId& id) const {
  return impl_->index->Get(ObjectKey(id)).ok();
}

Result<ObjectLocation> ObjectStore::Locate(const ContentId& id) const {
  ObjectLocation loc;
  VREPO_RETURN_IF_ERROR(impl_->Locate(id, &loc, nullptr));
  return loc;
}

Result<std::string> ObjectStore::Get(const ContentId& id) const {
  ObjectLocation loc;
  std::vector<ChunkRef> chunks;
  VREPO_RETURN_IF_ERROR(impl_->Locate(id, &loc, &chunks));
  std::string out;
  if (loc.codec == ObjectLocation::Codec::kChunked) {
    out.reserve(loc.raw_size);
    VREPO_RETURN_IF_ERROR(impl_->ForEachChunk(id, chunks, [&](std::string_view bytes) {
      out.append(bytes);
      return Status::OK();
    }));
    return out;
  }
  std::shared_ptr<const MappedFile> hold;
  VREPO_ASSIGN_OR_RETURN(std::string_view bytes, impl_->ReadPacked(id, loc, false, &hold, &out));
  if (loc.codec == ObjectLocation::Codec::kZstd) return out;  // decompressed in place
  return std::string(bytes);
}

Status ObjectStore::GetMany(const std::vector<ContentId>& ids, ThreadPool& pool,
                            const std::function<void(size_t, std::string_view)>& fn) const {
  // Work is handed out in blocks: one pool task per object would spend more on the pool's lock
  // than on a small object.
  constexpr size_t kLookupBlock = 4096;
  constexpr size_t kReadBlock = 256;
  const size_t n = ids.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });

  std::vector<ObjectLocation> locs(n);
  const size_t lookup_blocks = (n + kLookupBlock - 1) / kLookupBlock;
  std::vector<Status> lookup_errors(lookup_blocks);
  VREPO_RETURN_IF_ERROR(pool.ParallelFor(lookup_blocks, [&](size_t b) {
    const size_t begin = b * kLookupBlock, end = std::min(n, begin + kLookupBlock);
    std::vector<std::string> keys, values;
    std::vector<bool> found;
    for (size_t k = begin; k < end; ++k) keys.push_back(ObjectKey(ids[order[k]]));
    Status st = impl_->index->MultiGet(keys, &values, &found);
    for (size_t k = begin; st.ok() && k < end; ++k) {
      const ContentId& id = ids[order[k]];
      if (!found[k - begin]) {
        st = Status::NotFound("object " + id.Hex() + " is not in the store");
      } else {
        st = DecodeLocation(values[k - begin], id, &locs[order[k]], nullptr);
      }
    }
    lookup_errors[b] = std::move(st);
  }));
  for (Status& st : lookup_errors) VREPO_RETURN_IF_ERROR(st);

  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(locs[a].pack, locs[a].offset) < std::tie(locs[b].pack, locs[b].offset);
  });
  const size_t read_blocks = (n + kReadBlock - 1) / kReadBlock;
  std::vector<Status> read_errors(read_blocks);
  VREPO_RETURN_IF_ERROR(pool.ParallelFor(read_blocks, [&](size_t b) {
    const size_t begin = b * kReadBlock, end = std::min(n, begin + kReadBlock);
    std::string& scratch = ThreadScratch();
    for (size_t k = begin; k < end; ++k) {
      const size_t i = order[k];
      if (locs[i].codec == ObjectLocation::Codec::kChunked) {
        Result<std::string> whole = Get(ids[i]);
        if (!whole.ok()) {
          read_errors[b] = whole.status();
          return;
        }
        fn(i, *whole);
        continue;
      }
      std::shared_ptr<const MappedFile> hold;
      Result<std::string_view> bytes = impl_->ReadPacked(ids[i], locs[i], false, &hold, &scratch);
      if (!bytes.ok()) {
        read_errors[b] = bytes.status();
        return;
      }
      fn(i, *bytes);
    }
  }));
  for (Status& st : read_errors) VREPO_RETURN_IF_ERROR(st);
  return Status::OK();
}

Result<StoredRecord> ObjectStore::ReadRecord(const ContentId& id) const {
  StoredRecord rec;
  ObjectLocation loc;
  VREPO_RETURN_IF_ERROR(impl_->Locate(id, &loc, &rec.chunks));
  rec.id = id;
  rec.codec = loc.codec;
  rec.raw_size = loc.raw_size;
  if (loc.codec == ObjectLocation::Codec::kChunked) return rec;
  std::shared_ptr<const MappedFile> hold;
  RecordHeader header;
  VREPO_ASSIGN_OR_RETURN(std::string_view payload, impl_->Payload(id, loc, &hold, &header));
  if (Crc32(payload) != header.payload_crc) {
    return Status::Corruption("object " + id.Hex() + " in " + Where(hold->path(), loc.offset) +
                              ": stored bytes fail their checksum [run fsck]");
  }
  rec.stored.assign(payload);
  return rec;
}

Status ObjectStore::WriteTo(const ContentId& id, int fd, const std::string& fd_path) const {
  ObjectLocation loc;
  std::vector<ChunkRef> chunks;
  VREPO_RETURN_IF_ERROR(impl_->Locate(id, &loc, &chunks));
  if (loc.codec == ObjectLocation::Codec::kChunked) {
    return impl_->ForEachChunk(
        id, chunks, [&](std::string_view bytes) { return WriteAll(fd, bytes, fd_path); });
  }
  std::shared_ptr<const MappedFile> hold;
  std::string& scratch = ThreadScratch();
  auto bytes = impl_->ReadPacked(id, loc, false, &hold, &scratch);
  Status st = bytes.ok() ? WriteAll(fd, *bytes, fd_path) : bytes.status();
  TrimScratch(scratch);
  return st;
}

Result<std::vector<FsckProblem>> ObjectStore::Fsck(
    const std::function<void(uint64_t)>& progress) const {
  struct Entry {
    ContentId id;
    ObjectLocation loc;
  };
  std::vector<Entry> packed;
  std::vector<std::pair<ContentId, std::vector<ChunkRef>>> chunked;
  std::vector<FsckProblem> problems;
  Status scan = impl_->index->ScanPrefix(
      std::string(1, key_prefix::kObject), [&](std::string_view key, std::string_view value) {
        auto id = ContentId::FromRaw(key.substr(1));
        if (!id.ok()) {
          problems.push_back({"", "", "index key of bad length: " + id.status().message()});
          return true;
        }
        Entry e{*id, {}};
        std::vector<ChunkRef> chunks;
        Status st = DecodeLocation(value, e.id, &e.loc, &chunks);
        if (!st.ok()) {
          problems.push_back({e.id.Hex(), "", st.message()});
        } else if (e.loc.codec == ObjectLocation::Codec::kChunked) {
          chunked.emplace_back(e.id, std::move(chunks));
        } else {
          packed.push_back(e);
        }
        return true;
      });
  VREPO_RETURN_IF_ERROR(scan);
  // Pack order, then offset order: each pack is read front to back once.
  std::sort(packed.begin(), packed.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.loc.pack, a.loc.offset) < std::tie(b.loc.pack, b.loc.offset);
  });
  uint64_t checked = 0;
  std::unordered_set<ContentId, ContentIdHash> bad_objects;
  std::string scratch;
  for (size_t i = 0; i < packed.size();) {
    uint32_t pack = packed[i].loc.pack;
    size_t j = i;
    while (j < packed.size() && packed[j].loc.pack == pack) ++j;
    std::string path = impl_->PackPath(pack);
    auto mapped = impl_->MapPack(pack);
    if (!mapped.ok()) {
      problems.push_back({"", path,
                          "cannot open pack file (" + std::to_string(j - i) +
                              " objects are in it): " + mapped.status().message()});
      for (size_t k = i; k < j; ++k) bad_objects.insert(packed[k].id);
      checked += j - i;
      if (progress) progress(checked);
      i = j;
      continue;
    }
    for (; i < j; ++i) {
      std::shared_ptr<const MappedFile> hold;
      auto bytes = impl_->ReadPacked(packed[i].id, packed[i].loc, true, &hold, &scratch);
      if (!bytes.ok()) {
        problems.push_back({packed[i].id.Hex(), path, bytes.status().message()});
        bad_objects.insert(packed[i].id);
      }
      TrimScratch(scratch);
      if (progress) progress(++checked);
    }
  }
  for (const auto& [id, chunks] : chunked) {
    bool complete = true;
    for (const ChunkRef& c : chunks) {
      ObjectLocation cloc;
      Status st = impl_->Locate(c.id, &cloc, nullptr);
      if (!st.ok() || cloc.raw_size != c.size) {
        problems.push_back({id.Hex(), "",
                            "chunk " + c.id.Hex() +
                                (st.ok() ? " has the wrong size" : " is missing from the store")});
        complete = false;
        break;
      }
      if (bad_objects.count(c.id)) complete = false;
    }
    // With every chunk sound on its own, the chunk list itself is checked by the file's id.
    if (complete) {
      Status st = impl_->ForEachChunk(id, chunks, [](std::string_view) { return Status::OK(); });
      if (!st.ok()) problems.push_back({id.Hex(), "", st.message()});
    }
    if (progress) progress(++checked);
  }
  return problems;
}

Result<uint64_t> ObjectStore::Gc(const std::function<bool(const ContentId&)>& live) {
  if (impl_->read_only)
    return Status::InvalidArgument("store " + impl_->vrepo_dir + " is read-only");
  if (impl_->active_writers.load() > 0) {
    return Status::InvalidArgument("cannot gc " + impl_->vrepo_dir +
                                   " while a write session is open");
  }
  struct Entry {
    ContentId id;
    ObjectLocation loc;
  };
  std::vector<Entry> entries;
  std::unordered_set<ContentId, ContentIdHash> keep;
  Status decode_error;
  VREPO_RETURN_IF_ERROR(impl_->index->ScanPrefix(
      std::string(1, key_prefix::kObject), [&](std::string_view key, std::string_view value) {
        auto id = ContentId::FromRaw(key.substr(1));
        if (!id.ok()) return true;
        Entry e{*id, {}};
        std::vector<ChunkRef> chunks;
        Status st = DecodeLocation(value, e.id, &e.loc, &chunks);
        if (!st.ok()) {
          decode_error = st;
          return false;
        }
        if (live(e.id)) {
          keep.insert(e.id);
          for (const ChunkRef& c : chunks) keep.insert(c.id);
        }
        entries.push_back(e);
        return true;
      }));
  // Refuse rather than guess: dropping an entry we cannot read could drop live data.
  if (!decode_error.ok()) return decode_error.WithContext("gc stopped");

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.loc.pack, a.loc.offset) < std::tie(b.loc.pack, b.loc.offset);
  });
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, NewWriter());
  PackWriter::Impl& w = *writer->impl_;
  IndexBatch deletes;
  uint64_t dropped = 0;
  for (const Entry& e : entries) {
    if (!keep.count(e.id)) {
      deletes.Delete(ObjectKey(e.id));
      ++dropped;
      continue;
    }
    if (e.loc.codec == ObjectLocation::Codec::kChunked) continue;  // index entry only
    std::shared_ptr<const MappedFile> hold;
    RecordHeader header;
    auto payload = impl_->Payload(e.id, e.loc, &hold, &header);
    if (!payload.ok()) return payload.status().WithContext("gc stopped");
    if (Crc32(*payload) != header.payload_crc) {
      return Status::Corruption("gc stopped: object " + e.id.Hex() + " in " +
                                Where(hold->path(), e.loc.offset) +
                                ": stored bytes fail their checksum [run fsck]");
    }
    VREPO_ASSIGN_OR_RETURN(bool present, w.Claim(e.id, false));
    if (present) continue;
    VREPO_RETURN_IF_ERROR(
        w.AppendRecord(e.id, e.loc.codec, e.loc.raw_size, *payload, header.payload_crc));
  }
  uint32_t new_pack = w.number;
  // The new pack is synced before the batch names it; old packs go only after the batch.
  VREPO_RETURN_IF_ERROR(writer->Commit(&deletes));
  writer.reset();
  impl_->ForgetPacks();
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, impl_->ListPacks());
  for (uint32_t n : numbers) {
    if (n == new_pack) continue;
    std::string path = impl_->PackPath(n);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("removing old pack " + path, errno);
    }
  }
  VREPO_RETURN_IF_ERROR(SyncDir(impl_->packs_dir));
  return dropped;
}

Result<uint64_t> ObjectStore::PackBytes() const {
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, impl_->ListPacks());
  uint64_t total = 0;
  for (uint32_t n : numbers) {
    struct stat st;
    std::string path = impl_->PackPath(n);
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // removed by a concurrent gc
      return Status::FromErrno(path, errno);
    }
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

}  // namespace vrepo
