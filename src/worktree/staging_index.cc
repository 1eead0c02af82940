#include "vrepo/worktree/staging_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vrepo/util/file.h"
#include "vrepo/util/little_endian.h"

namespace vrepo {

namespace {

// The staging index's key prefix: 's' + path -> staging entry. Its own, not the store's.
constexpr char kStagingPrefix = 's';
static_assert(!key_prefix::IsStoreReserved(kStagingPrefix), "the store owns this key prefix");

constexpr uint8_t kStagingFormat = 1;
constexpr size_t kStagingValueSize = 1 + 32 + 8 + 1 + 8 + 8 + 8 + 8;

int64_t ToNs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

FileStat FileStatFrom(const struct stat& st) {
  FileStat f;
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = ToNs(st.st_mtim);
  f.ctime_ns = ToNs(st.st_ctim);
  f.ino = static_cast<uint64_t>(st.st_ino);
  f.dev = static_cast<uint64_t>(st.st_dev);
  f.executable = (st.st_mode & S_IXUSR) != 0;
  return f;
}

void StagingEntry::SetStat(const FileStat& st) {
  mtime_ns = st.mtime_ns;
  ctime_ns = st.ctime_ns;
  ino = st.ino;
  dev = st.dev;
  // A stat that does not describe the hashed bytes must never match later.
  if (st.size != size) mtime_ns = 0;
}

bool StagingEntry::StatMatches(const FileStat& st) const {
  return mtime_ns != 0 && st.size == size && st.mtime_ns == mtime_ns && st.ctime_ns == ctime_ns &&
         st.ino == ino && st.executable == executable;
}

std::string EncodeStagingValue(const StagingEntry& e) {
  std::string v;
  v.reserve(kStagingValueSize);
  v.push_back(static_cast<char>(kStagingFormat));
  v.append(e.id.Raw());
  AppendU64(&v, e.size);
  v.push_back(static_cast<char>((e.executable ? 1 : 0) | (e.absent ? 2 : 0)));
  AppendU64(&v, static_cast<uint64_t>(e.mtime_ns));
  AppendU64(&v, static_cast<uint64_t>(e.ctime_ns));
  AppendU64(&v, e.ino);
  AppendU64(&v, e.dev);
  return v;
}

Status DecodeStagingValue(std::string_view value, StagingEntry* e) {
  if (value.empty() || static_cast<uint8_t>(value[0]) != kStagingFormat) {
    return Status::Corruption("staging index entry '" + e->path + "' has unknown format " +
                              (value.empty() ? "(empty)" : std::to_string(uint8_t(value[0]))));
  }
  if (value.size() != kStagingValueSize) {
    return Status::Corruption("staging index entry '" + e->path + "' has " +
                              std::to_string(value.size()) + " bytes, expected " +
                              std::to_string(kStagingValueSize));
  }
  const char* p = value.data() + 1;
  std::memcpy(e->id.bytes.data(), p, 32);
  p += 32;
  e->size = GetU64(p);
  p += 8;
  e->executable = (*p & 1) != 0;
  e->absent = (*p & 2) != 0;
  p += 1;
  e->mtime_ns = static_cast<int64_t>(GetU64(p));
  e->ctime_ns = static_cast<int64_t>(GetU64(p + 8));
  e->ino = GetU64(p + 16);
  e->dev = GetU64(p + 24);
  return Status::OK();
}

std::string StagingKey(std::string_view path) {
  std::string k;
  k.reserve(path.size() + 1);
  k.push_back(kStagingPrefix);
  k.append(path);
  return k;
}

std::string StagingTimeKey() { return MetaKey("worktree.index_time"); }

std::string IndexTreeKey() { return MetaKey("worktree.index_tree"); }

Result<StagingIndex> LoadStaging(const IndexDb& db) {
  StagingIndex index;
  // Reserving for every key in the index over-reserves, but pages never touched cost nothing,
  // while growing by doubling would touch (and fault in) twice the memory the entries need.
  index.entries.reserve(db.EstimateKeyCount());
  Status decode_status;
  Status st = db.ScanPrefix(std::string(1, kStagingPrefix),
                            [&](std::string_view key, std::string_view value) {
                              StagingEntry e;
                              e.path.assign(key.substr(1));
                              decode_status = DecodeStagingValue(value, &e);
                              if (!decode_status.ok()) return false;
                              index.entries.push_back(std::move(e));
                              return true;
                            });
  VREPO_RETURN_IF_ERROR(st);
  VREPO_RETURN_IF_ERROR(decode_status);
  auto t = db.Get(StagingTimeKey());
  if (t.ok() && t->size() == 8) {
    index.written_ns = static_cast<int64_t>(GetU64(t->data()));
  } else if (!t.ok() && t.status().code() != Status::Code::kNotFound) {
    return t.status();
  }
  auto tree = db.Get(IndexTreeKey());
  if (tree.ok()) {
    index.tree = std::move(tree).value();
  } else if (tree.status().code() != Status::Code::kNotFound) {
    return tree.status();
  }
  // RocksDB's bytewise key order is the path order every caller relies on.
  return index;
}

std::pair<size_t, size_t> EntriesUnder(const std::vector<StagingEntry>& entries,
                                       const std::string& prefix) {
  return RangeUnder(entries, prefix);
}

const StagingEntry* FindEntry(const std::vector<StagingEntry>& entries, std::string_view path) {
  auto it = std::lower_bound(entries.begin(), entries.end(), path,
                             [](const StagingEntry& e, std::string_view p) { return e.path < p; });
  if (it == entries.end() || it->path != path) return nullptr;
  return &*it;
}

Status PutStagingTime(const std::string& stamp_file, IndexBatch* batch) {
  FileHandle fd(::open(stamp_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno(stamp_file, errno);
  if (::futimens(fd.get(), nullptr) != 0) return Status::FromErrno("touching " + stamp_file, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(stamp_file, errno);
  std::string v;
  AppendU64(&v, static_cast<uint64_t>(ToNs(st.st_mtim)));
  batch->Put(StagingTimeKey(), v);
  batch->Delete(IndexTreeKey());
  return Status::OK();
}

bool PathUnder(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return true;
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace vrepo
