#include "vrepo/worktree/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// A folder entry as readdir gave it, then as lstat found it.
struct Entry {
  uint32_t name_offset = 0;  // into its block's names, NUL-terminated there
  uint32_t name_size = 0;
  unsigned char type = DT_UNKNOWN;  // d_type; DT_UNKNOWN and DT_REG are resolved by lstat
  bool is_dir = false;
  bool is_reg = false;
  int stat_error = 0;
  FileStat stat;
};

// A folder's entries come in blocks so that lstat can work on one block while readdir fills
// the next: in a folder of 60,000 files each takes about as long as the other. Names are
// packed into one buffer per block and sorted through 8-byte prefixes: with a string per
// entry, allocating, sorting and moving them cost as much as the lstat calls.
constexpr size_t kBlockBits = 10;
constexpr size_t kBlockSize = size_t(1) << kBlockBits;

struct Block {
  std::string names;
  std::vector<Entry> entries;
  std::string_view Name(const Entry& e) const {
    return std::string_view(names.data() + e.name_offset, e.name_size);
  }
};

// The byte of an entry's sort key at `i`, or -1 past its end. The key is the name, plus '/'
// for folders, so that siblings sort as their paths and everything under them do.
int KeyByte(std::string_view name, bool is_dir, size_t i) {
  if (i < name.size()) return uint8_t(name[i]);
  return i == name.size() && is_dir ? '/' : -1;
}

bool KeyLess(std::string_view a, bool a_dir, std::string_view b, bool b_dir) {
  const size_t n = std::min(a.size(), b.size());
  if (int c = std::memcmp(a.data(), b.data(), n); c != 0) return c < 0;
  // Names hold no '/', so past a common prefix the next key bytes differ or both keys end.
  return KeyByte(a, a_dir, n) < KeyByte(b, b_dir, n);
}

// The key's first 8 bytes, big-endian, zero-padded: names hold no NUL, so comparing these
// orders keys as their bytes do, and most comparisons in a sort stop here.
uint64_t KeyPrefix(std::string_view name, bool is_dir) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | uint64_t(std::max(0, KeyByte(name, is_dir, i)));
  return v;
}

struct SortKey {
  uint64_t prefix;
  uint32_t entry;  // block << kBlockBits | index in the block
};

// lstat of every plain (or untyped) entry in `block`, a folder's entries relative to `dfd`.
void StatBlock(int dfd, Block* block) {
  for (Entry& e : block->entries) {
    if (e.type != DT_REG && e.type != DT_UNKNOWN) continue;
    struct stat st;
    if (::fstatat(dfd, block->names.data() + e.name_offset, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      e.stat_error = errno;
    } else if (S_ISDIR(st.st_mode)) {
      e.is_dir = true;
    } else if (S_ISREG(st.st_mode)) {
      e.is_reg = true;
      e.stat = FileStatFrom(st);
    } else {
      e.type = S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
    }
  }
}

}  // namespace

class TreeWalker {
 public:
  TreeWalker(TreeListing* out, IgnoreStack* ignore, ThreadPool& pool, Reporter* reporter)
      : out_(out), ignore_(ignore), pool_(pool), reporter_(reporter) {}

  // Takes ownership of `fd`, an open folder at `rel`.
  Status Walk(int fd, const std::string& rel) {
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
    if (!dir) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("opening folder " + Display(rel), err);
    }
    const int dfd = ::dirfd(dir.get());
    bool has_ignore_file = false;
    Blocks blocks;
    VREPO_RETURN_IF_ERROR(ReadAll(dir.get(), rel, &has_ignore_file, &blocks));
    VREPO_ASSIGN_OR_RETURN(std::vector<SortKey> order, Order(blocks, rel));
    bool pushed = false;
    if (has_ignore_file) VREPO_RETURN_IF_ERROR(PushIgnoreFile(dfd, rel, &pushed));

    // Reserving ahead instead of doubling: each regrowth moves every file found so far into
    // fresh pages, and page faults were a fifth of a status's CPU time. Pages reserved but
    // never used cost nothing.
    std::vector<TreeListing::File>& files = out_->files_;
    std::string& paths = out_->paths_;
    const size_t need = files.size() + order.size();
    if (files.capacity() < need) files.reserve(2 * need);
    const size_t need_bytes = paths.size() + order.size() * (rel.size() + 1 + 16);
    if (paths.capacity() < need_bytes) paths.reserve(2 * need_bytes);
    Status result;
    for (const SortKey& k : order) {
      const Entry& e = EntryAt(blocks, k.entry);
      const std::string_view name = NameAt(blocks, k.entry);
      const size_t offset = paths.size();
      paths.append(rel);
      if (!rel.empty()) paths.push_back('/');
      paths.append(name);
      const std::string_view path = std::string_view(paths).substr(offset);
      if (ignore_->IsIgnored(path, e.is_dir)) {
        paths.resize(offset);
        continue;
      }
      if (!e.is_dir) {
        files.push_back(TreeListing::File{offset, uint32_t(path.size()), e.stat});
        continue;
      }
      const std::string folder(path);
      paths.resize(offset);
      int child = ::openat(dfd, name.data(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        if (errno == ENOENT) continue;
        result = Status::FromErrno("opening folder " + folder, errno);
        break;
      }
      result = Walk(child, folder);
      if (!result.ok()) break;
    }
    if (pushed) ignore_->Pop();
    return result;
  }

 private:
  using Blocks = std::vector<std::unique_ptr<Block>>;

  static const Entry& EntryAt(const Blocks& blocks, uint32_t k) {
    return blocks[k >> kBlockBits]->entries[k & (kBlockSize - 1)];
  }
  static std::string_view NameAt(const Blocks& blocks, uint32_t k) {
    return blocks[k >> kBlockBits]->Name(EntryAt(blocks, k));
  }

  // Reads the next block of entries of `dir` (at `rel`); *end when the folder has no more.
  static Status ReadBlock(DIR* dir, const std::string& rel, bool* has_ignore_file,
                          std::unique_ptr<Block>* out, bool* end) {
    auto block = std::make_unique<Block>();
    block->entries.reserve(kBlockSize);
    *end = true;
    errno = 0;
    while (struct dirent* de = ::readdir(dir)) {
      const char* name = de->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (rel.empty() && std::strcmp(name, ".vrepo") == 0) continue;
      if (std::strcmp(name, kIgnoreFileName) == 0) *has_ignore_file = true;
      size_t size = std::strlen(name);
      Entry& e = block->entries.emplace_back();
      e.name_offset = uint32_t(block->names.size());
      e.name_size = uint32_t(size);
      e.type = de->d_type;
      e.is_dir = de->d_type == DT_DIR;
      block->names.append(name, size + 1);
      if (block->entries.size() == kBlockSize) {
        *end = false;
        break;
      }
      errno = 0;
    }
    if (*end && errno != 0) return Status::FromErrno("reading folder " + Display(rel), errno);
    *out = std::move(block);
    return Status::OK();
  }

  // Every entry of `dir`, lstat'ed, in blocks.
  Status ReadAll(DIR* dir, const std::string& rel, bool* has_ignore_file, Blocks* blocks_out) {
    const int dfd = ::dirfd(dir);
    Blocks& blocks = *blocks_out;
    blocks.resize(1);
    bool end = false;
    VREPO_RETURN_IF_ERROR(ReadBlock(dir, rel, has_ignore_file, &blocks[0], &end));
    if (end) {
      StatBlock(dfd, blocks[0].get());  // most folders fit one block: no threads for them
      return Status::OK();
    }
    // Task 0 reads blocks and then helps; the others lstat blocks as they come. lstat
    // dominates a walk of an unchanged tree and mostly waits on the kernel's locks, so it
    // is spread over threads, as git's preloaded index does.
    std::mutex mu;
    std::condition_variable ready;
    size_t next = 0;
    bool done = false;
    Status read_status;
    auto stat_blocks = [&] {
      while (true) {
        Block* b;
        {
          std::unique_lock<std::mutex> lock(mu);
          ready.wait(lock, [&] { return next < blocks.size() || done; });
          if (next == blocks.size()) return;
          b = blocks[next++].get();
        }
        StatBlock(dfd, b);
      }
    };
    VREPO_RETURN_IF_ERROR(pool_.ParallelFor(pool_.size() + 1, [&](size_t task) {
      if (task == 0) {
        // Even if reading throws, the lstat tasks must learn that no more blocks come.
        struct MarkDone {
          std::mutex& mu;
          bool& done;
          std::condition_variable& ready;
          ~MarkDone() {
            {
              std::lock_guard<std::mutex> lock(mu);
              done = true;
            }
            ready.notify_all();
          }
        } mark_done{mu, done, ready};
        bool last = false;
        while (!last) {
          std::unique_ptr<Block> b;
          Status s = ReadBlock(dir, rel, has_ignore_file, &b, &last);
          std::lock_guard<std::mutex> lock(mu);
          if (!s.ok()) {
            read_status = s;
            break;
          }
          blocks.push_back(std::move(b));
          ready.notify_one();
        }
      }
      stat_blocks();
    }));
    return read_status;
  }

  // The files and folders of `blocks` in the listing's order; symlinks and special files are
  // reported and left out.
  Result<std::vector<SortKey>> Order(const Blocks& blocks, const std::string& rel) {
    std::vector<SortKey> order;
    for (size_t b = 0; b < blocks.size(); ++b) {
      const Block& block = *blocks[b];
      for (size_t i = 0; i < block.entries.size(); ++i) {
        const Entry& e = block.entries[i];
        if (!e.is_dir && !e.is_reg) {
          if (e.stat_error == ENOENT) continue;  // deleted while we walk
          std::string path = JoinPath(rel, std::string(block.Name(e)));
          if (e.stat_error != 0) return Status::FromErrno(path, e.stat_error);
          Warn(reporter_, std::string("skipping ") +
                              (e.type == DT_LNK ? "symlink" : "special file") + " " +
                              QuoteName(path) + " (not supported in this version)");
          continue;
        }
        order.push_back(SortKey{KeyPrefix(block.Name(e), e.is_dir), uint32_t(b << kBlockBits | i)});
      }
    }
    std::sort(order.begin(), order.end(), [&](const SortKey& a, const SortKey& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return KeyLess(NameAt(blocks, a.entry), EntryAt(blocks, a.entry).is_dir,
                     NameAt(blocks, b.entry), EntryAt(blocks, b.entry).is_dir);
    });
    return order;
  }

  // Puts rel/.vrepoignore's patterns on the stack; *pushed when there was one to read.
  Status PushIgnoreFile(int dfd, const std::string& rel, bool* pushed) {
    FileHandle ifd(::openat(dfd, kIgnoreFileName, O_RDONLY | O_CLOEXEC));
    if (!ifd.valid()) return Status::OK();
    std::string text;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(ifd.get(), buf, sizeof(buf))) > 0) text.append(buf, size_t(n));
    if (n < 0) return Status::FromErrno("reading " + JoinPath(rel, kIgnoreFileName), errno);
    ignore_->Push(ParseIgnoreFile(rel, text));
    *pushed = true;
    return Status::OK();
  }

  static std::string Display(const std::string& rel) { return rel.empty() ? "." : rel; }
  TreeListing* out_;
  IgnoreStack* ignore_;
  ThreadPool& pool_;
  Reporter* reporter_;
};

Result<TreeListing> ListTree(const std::string& root, const std::string& folder,
                             Reporter* reporter) {
  IgnoreStack ignore;
  VREPO_RETURN_IF_ERROR(ignore.LoadAncestors(root, folder));
  std::string abs = JoinPath(root, folder);
  int fd = ::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("opening folder " + abs, errno);
  TreeListing listing;
  // One stat thread per core, not DefaultIoThreads' four: lstat of a cached tree is CPU work
  // in the kernel, and extra threads only added switches (status of 70,000 files: 96.6 ms
  // with 8, 90.7 ms with 2 on 2 cores; with the page cache dropped, 519-780 ms against 385).
  ThreadPool pool(0);
  TreeWalker walker(&listing, &ignore, pool, reporter);
  VREPO_RETURN_IF_ERROR(walker.Walk(fd, folder));
  return listing;
}

Result<std::vector<ScannedFile>> ScanTree(const std::string& root, const std::string& folder,
                                          Reporter* reporter) {
  VREPO_ASSIGN_OR_RETURN(TreeListing listing, ListTree(root, folder, reporter));
  std::vector<ScannedFile> files;
  files.reserve(listing.size());
  for (size_t i = 0; i < listing.size(); ++i) {
    files.push_back(ScannedFile{std::string(listing.path(i)), listing.stat(i)});
  }
  return files;
}

Status StatPath(const std::string& root, const std::string& path, FileStat* st, bool* is_regular,
                bool* is_dir) {
  struct stat s;
  std::string abs = JoinPath(root, path);
  if (::lstat(abs.c_str(), &s) != 0) {
    if (errno == ENOTDIR) return Status::NotFound(path + ": a parent is not a folder");
    return Status::FromErrno(path, errno);
  }
  *st = FileStatFrom(s);
  *is_regular = S_ISREG(s.st_mode);
  *is_dir = S_ISDIR(s.st_mode);
  return Status::OK();
}

Status HashFile(const std::string& abs_path, ContentId* id, FileStat* st) {
  FileHandle fd(::open(abs_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME));
  if (!fd.valid() && errno == EPERM)
    fd = FileHandle(::open(abs_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(abs_path, errno);
  thread_local std::unique_ptr<char[]> buf(new char[1 << 20]);
  Sha256 sha;
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd.get(), buf.get(), 1 << 20);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("reading " + abs_path, errno);
    }
    if (n == 0) break;
    sha.Update(std::string_view(buf.get(), size_t(n)));
    total += uint64_t(n);
  }
  struct stat s;
  if (::fstat(fd.get(), &s) != 0) return Status::FromErrno(abs_path, errno);
  *st = FileStatFrom(s);
  if (st->size != total) {  // changed while we read: describe what was hashed, trust nothing
    st->size = total;
    st->mtime_ns = 0;
  }
  *id = sha.Finish();
  return Status::OK();
}

}  // namespace vrepo
