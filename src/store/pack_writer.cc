// PackWriter: a write session appending records to one new pack file (pack_format.h), made visible
// by one index batch at commit.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "compression.h"
#include "object_store_impl.h"
#include "vrepo/store/chunker.h"

namespace vrepo {

namespace {

// Small records are gathered so that a million tiny objects are not a million syscalls.
constexpr size_t kWriteBufferSize = 1 << 20;
// Payloads at least this large skip the buffer and go straight to the file.
constexpr size_t kDirectWriteSize = 256 << 10;
// PutFile reads big files through a window this large (it must exceed max chunk size).
constexpr size_t kReadWindow = 8 << 20;

// Reads from `fd` until `window` holds kReadWindow bytes or the file ends (sets *eof).
Status FillWindow(int fd, const std::string& file_path, std::string* window, bool* eof) {
  while (!*eof && window->size() < kReadWindow) {
    size_t old = window->size();
    window->resize(kReadWindow);
    ssize_t n = ::read(fd, window->data() + old, kReadWindow - old);
    if (n < 0 && errno == EINTR) {
      window->resize(old);
      continue;
    }
    if (n < 0) return Status::FromErrno("reading " + file_path, errno);
    window->resize(old + static_cast<size_t>(n));
    if (n == 0) *eof = true;
  }
  return Status::OK();
}

}  // namespace

// ---- PackWriter::Impl -----------------------------------------------------------------

Result<std::unique_ptr<PackWriter::Impl>> PackWriter::Impl::Create(ObjectStore::Impl* store) {
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, store->reader->ListPacks());
  uint32_t number = numbers.empty() ? 1 : numbers.back() + 1;
  auto w = std::make_unique<Impl>();
  w->store = store;
  store->active_writers.fetch_add(1);
  // A fresh file per session (O_EXCL): a torn tail left by a killed writer is never followed by
  // valid records, and old packs are never modified.
  for (int attempt = 0;; ++attempt) {
    std::string path = store->reader->PackPath(number);
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
  w->buffer.reserve(kWriteBufferSize + kDirectWriteSize + kRecordHeaderSize);
  w->buffer.append(PackHeader());
  w->end = w->buffer.size();
  return w;
}

PackWriter::Impl::~Impl() {
  if (!committed && !unlinked) {
    file.reset();
    ::unlink(path.c_str());
  }
  store->active_writers.fetch_sub(1);
}

Status PackWriter::Impl::FlushLocked() {
  if (buffer.empty()) return Status::OK();
  Status st = file->Append(buffer);
  buffer.clear();
  if (!st.ok()) error = st;
  return st;
}

Status PackWriter::Impl::AppendLocked(std::string_view header, std::string_view payload) {
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

Status PackWriter::Impl::Usable() const {
  if (!error.ok()) return error;
  if (committed) return Status::InvalidArgument("pack writer " + path + " already committed");
  return Status::OK();
}

Result<bool> PackWriter::Impl::Claim(const ContentId& id, bool check_index) {
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

Status PackWriter::Impl::AppendRecord(const ContentId& id, ObjectLocation::Codec codec,
                                      uint64_t raw_size, std::string_view payload, uint32_t crc) {
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

Status PackWriter::Impl::StoreBlob(const ContentId& id, std::string_view data) {
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

Status PackWriter::Impl::PutLargeFile(int fd, const std::string& file_path, ContentId* id,
                                      uint64_t* size) {
  ChunkerOptions copts;
  std::string window;
  window.reserve(kReadWindow);
  std::vector<ChunkRef> chunks;
  Sha256 whole;
  uint64_t total = 0;
  bool eof = false;
  while (true) {
    VREPO_RETURN_IF_ERROR(FillWindow(fd, file_path, &window, &eof));
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
  if (!present) AddChunked(*id, total, chunks);
  return Status::OK();
}

void PackWriter::Impl::AddChunked(const ContentId& id, uint64_t raw_size,
                                  const std::vector<ChunkRef>& chunks) {
  ObjectLocation loc;
  loc.codec = ObjectLocation::Codec::kChunked;
  loc.raw_size = raw_size;
  std::string value = EncodeLocation(loc, &chunks);
  std::lock_guard lock(mu);
  chunked.emplace(id, std::move(value));
}

IndexBatch PackWriter::Impl::LocationBatch() const {
  // Keys go in in ascending order: RocksDB's memtable inserts sequential keys through a cached
  // splice, and random ones cost a full skiplist search each, a tenth of an add's CPU.
  std::vector<std::pair<std::string, std::string>> objects;
  objects.reserve(written.size() + chunked.size());
  for (const auto& [id, loc] : written)
    objects.emplace_back(ObjectKey(id), EncodeLocation(loc, nullptr));
  for (const auto& [id, value] : chunked) objects.emplace_back(ObjectKey(id), value);
  std::sort(objects.begin(), objects.end());
  IndexBatch batch;
  for (const auto& [key, value] : objects) batch.Put(key, value);
  return batch;
}

// ---- PackWriter -----------------------------------------------------------------------

PackWriter::PackWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PackWriter::~PackWriter() = default;

Result<ContentId> PackWriter::Put(std::string_view data) {
  ContentId id = ContentId::Of(data);
  VREPO_RETURN_IF_ERROR(impl_->StoreBlob(id, data));
  return id;
}

Status PackWriter::PutVerified(const ContentId& id, ObjectLocation::Codec codec, uint64_t raw_size,
                               std::string_view stored, const std::vector<ChunkRef>& chunks) {
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
    if (!present) w.AddChunked(id, raw_size, chunks);
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
    // The pack must be durable before the index names it; otherwise a crash could leave index
    // entries pointing at bytes that never reached the disk.
    Status st = w.file->Sync();
    if (st.ok()) st = SyncDir(w.store->packs_dir);
    if (!st.ok()) return w.error = st;
  } else {
    w.file.reset();
    ::unlink(w.path.c_str());
    w.unlinked = true;
  }
  // The caller's keys go after the objects': the staging keys that most batches carry sort after
  // 'o', so the inserts stay in key order.
  IndexBatch batch = w.LocationBatch();
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

}  // namespace vrepo
