// Writing trees: a list of files becomes git trees of pointer blobs, built in a mempack and
// installed as one pack without delta search (see ARCHITECTURE.md's measured costs).
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "history_impl.h"
#include "pack_stream.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

namespace {

// Below this many new objects, loose objects are cheaper than a pack and its index.
constexpr size_t kPackThreshold = 64;

// Builds trees for a sorted list of files inside a scratch repository whose only object store
// is a mempack, where a write costs a hash and a map insert (no disk, no pack lookups).
class TreeBuilder {
 public:
  TreeBuilder(git_repository* repo, git_odb_backend* mempack,
              const std::vector<const FileEntry*>& files)
      : repo_(repo), mempack_(mempack), files_(files), sha1_(EVP_MD_CTX_new()) {}

  // Writes the tree of files_[lo, hi), all of which share their first `offset` path bytes.
  Result<git_oid> Build(size_t lo, size_t hi, size_t offset) {
    git_treebuilder* raw = nullptr;
    int err = git_treebuilder_new(&raw, repo_, nullptr);
    if (err < 0) return GitError(err, "starting a tree");
    GitPtr<git_treebuilder> bld(raw);
    std::string name;
    size_t i = lo;
    while (i < hi) {
      const std::string& path = files_[i]->path;
      size_t slash = path.find('/', offset);
      git_oid oid;
      git_filemode_t mode;
      size_t next;
      if (slash == std::string::npos) {
        name.assign(path, offset, std::string::npos);
        VREPO_RETURN_IF_ERROR(WritePointer(*files_[i], &oid));
        mode = files_[i]->executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
        next = i + 1;
      } else {
        name.assign(path, offset, slash - offset);
        // Sorted paths that share "dir/" are contiguous.
        std::string_view dir_prefix(path.data(), slash + 1);
        next = i + 1;
        while (next < hi && std::string_view(files_[next]->path).starts_with(dir_prefix)) ++next;
        if (name.empty()) return Status::InvalidArgument("invalid path '" + path + "'");
        VREPO_ASSIGN_OR_RETURN(oid, Build(i, next, slash + 1));
        mode = GIT_FILEMODE_TREE;
      }
      if (git_treebuilder_get(bld.get(), name.c_str()) != nullptr) {
        return Status::InvalidArgument("path '" + path.substr(0, offset) + name +
                                       "' is both a file and a folder");
      }
      err = git_treebuilder_insert(nullptr, bld.get(), name.c_str(), &oid, mode);
      if (err < 0) return Status::InvalidArgument("invalid path '" + path + "'");
      i = next;
    }
    git_oid tree;
    err = git_treebuilder_write(&tree, bld.get());
    if (err < 0) return GitError(err, "writing a tree");
    // Identical folders give identical trees; list each once.
    if (trees_.insert(tree).second) written_.push_back(tree);
    return tree;
  }

  // Every object written, each once, in no particular order. (The mempack of libgit2 1.5
  // cannot list its objects.)
  std::vector<git_oid> TakeWritten() { return std::move(written_); }

 private:
  // Hashes the pointer blob with OpenSSL and puts it straight into the mempack: git_odb_write
  // would hash with libgit2's slower collision-detecting SHA-1 and probe the odb first, which
  // together were most of the per-file cost. The id is git's: SHA-1("blob <size>\0" + data).
  Status WritePointer(const FileEntry& f, git_oid* oid) {
    text_ = PointerText(f.id, f.size);
    char header[32] = "blob ";
    char* end = std::to_chars(header + 5, header + sizeof(header) - 1, text_.size()).ptr;
    *end = '\0';
    size_t n = end + 1 - header;  // the NUL is hashed too
    if (EVP_DigestInit_ex(sha1_.get(), Sha1Md(), nullptr) != 1 ||
        EVP_DigestUpdate(sha1_.get(), header, n) != 1 ||
        EVP_DigestUpdate(sha1_.get(), text_.data(), text_.size()) != 1 ||
        EVP_DigestFinal_ex(sha1_.get(), oid->id, nullptr) != 1) {
      return Status::IOError("hashing pointer of '" + f.path + "': OpenSSL SHA-1 failed");
    }
    if (mempack_->exists(mempack_, oid)) return Status::OK();  // same content as another file
    int err = mempack_->write(mempack_, oid, text_.data(), text_.size(), GIT_OBJECT_BLOB);
    if (err < 0) return GitError(err, "writing pointer of '" + f.path + "'");
    written_.push_back(*oid);
    return Status::OK();
  }

  struct EvpMdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };

  git_repository* repo_;
  git_odb_backend* mempack_;
  const std::vector<const FileEntry*>& files_;
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> sha1_;
  std::string text_;
  std::vector<git_oid> written_;
  OidSet trees_;
};

}  // namespace

Result<std::string> History::WriteTree(const std::vector<FileEntry>& files) {
  std::vector<const FileEntry*> sorted;
  sorted.reserve(files.size());
  for (const FileEntry& f : files) sorted.push_back(&f);
  auto by_path = [](const FileEntry* a, const FileEntry* b) { return a->path < b->path; };
  if (!std::is_sorted(sorted.begin(), sorted.end(), by_path)) {
    std::sort(sorted.begin(), sorted.end(), by_path);
  }
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i - 1]->path == sorted[i]->path) {
      return Status::InvalidArgument("path '" + sorted[i]->path + "' appears twice");
    }
  }

  git_odb* raw_odb = nullptr;
  int err = git_odb_new(&raw_odb);
  if (err < 0) return GitError(err, "creating a scratch object database");
  GitPtr<git_odb> scratch_odb(raw_odb);
  git_odb_backend* mempack = nullptr;
  err = git_mempack_new(&mempack);
  if (err < 0) return GitError(err, "creating a mempack");
  err = git_odb_add_backend(scratch_odb.get(), mempack, 1);  // the odb now owns it
  if (err < 0) {
    mempack->free(mempack);
    return GitError(err, "adding a mempack");
  }
  git_repository* raw_repo = nullptr;
  err = git_repository_wrap_odb(&raw_repo, scratch_odb.get());
  if (err < 0) return GitError(err, "wrapping the scratch object database");
  GitPtr<git_repository> scratch_repo(raw_repo);

  TreeBuilder builder(scratch_repo.get(), mempack, sorted);
  VREPO_ASSIGN_OR_RETURN(git_oid root, builder.Build(0, sorted.size(), 0));
  std::vector<git_oid> all = builder.TakeWritten();
  std::vector<git_oid> missing;
  git_odb* dest = impl_->odb.get();
  for (const git_oid& oid : all) {
    // No refresh per miss: a rescan of the pack folder for each new object would dominate.
    if (!git_odb_exists_ext(dest, &oid, GIT_ODB_LOOKUP_NO_REFRESH)) missing.push_back(oid);
  }
  if (missing.size() >= kPackThreshold) {
    VREPO_RETURN_IF_ERROR(WritePackNoDelta(mempack, missing, dest, impl_->path + "/objects/pack"));
  } else {
    for (const git_oid& oid : missing) {
      void* data = nullptr;
      size_t len = 0;
      git_object_t type = GIT_OBJECT_INVALID;
      err = mempack->read(&data, &len, &type, mempack, &oid);
      if (err < 0) return GitError(err, "reading new object " + OidHex(oid));
      git_oid written;
      err = git_odb_write(&written, dest, data, len, type);
      git_odb_backend_data_free(mempack, data);
      if (err < 0) return GitError(err, "writing object " + OidHex(oid) + " to " + impl_->path);
    }
  }
  return OidHex(root);
}

}  // namespace vrepo
