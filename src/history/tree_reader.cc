// Reading trees: a commit's tree as the sorted list of files its pointer blobs describe.
#include <algorithm>
#include <string_view>

#include "history_impl.h"
#include "vrepo/history/tree_name.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace history_internal {

Status CheckTree(const git_tree* tree, const std::string& prefix) {
  size_t n = git_tree_entrycount(tree);
  std::vector<std::string_view> names(n);
  for (size_t i = 0; i < n; ++i) names[i] = git_tree_entry_name(git_tree_entry_byindex(tree, i));
  std::string why = CheckTreeNames(std::move(names));
  if (why.empty()) return Status::OK();
  return Status::Corruption("tree " + OidHex(*git_tree_id(tree)) +
                            (prefix.empty() ? "" : " at " + QuoteName(prefix)) + ": " + why);
}

}  // namespace history_internal

using namespace history_internal;  // NOLINT: private helpers of this layer

Result<FileEntry> History::Impl::ReadPointer(const git_oid& blob, std::string path,
                                             git_filemode_t mode) {
  git_odb_object* raw = nullptr;
  int err = git_odb_read(&raw, odb.get(), &blob);
  if (err < 0) return GitError(err, "reading blob " + OidHex(blob) + " of '" + path + "'");
  GitPtr<git_odb_object> obj(raw);
  FileEntry e;
  std::string_view text(static_cast<const char*>(git_odb_object_data(obj.get())),
                        git_odb_object_size(obj.get()));
  // The location is spelled out only on failure: building it for every pointer of a
  // million-file tree cost more than the parse.
  if (!ParsePointer(text, std::string(), &e.id, &e.size).ok()) {
    return ParsePointer(text, "blob " + OidHex(blob) + " of '" + path + "'", &e.id, &e.size);
  }
  e.path = std::move(path);
  e.executable = mode == GIT_FILEMODE_BLOB_EXECUTABLE;
  return e;
}

Status History::Impl::ReadTreeInto(const git_tree* tree, const std::string& prefix,
                                   std::vector<PendingPointer>* out) {
  VREPO_RETURN_IF_ERROR(CheckTree(tree, prefix));
  size_t n = git_tree_entrycount(tree);
  for (size_t i = 0; i < n; ++i) {
    const git_tree_entry* te = git_tree_entry_byindex(tree, i);
    std::string path = prefix + git_tree_entry_name(te);
    git_filemode_t mode = git_tree_entry_filemode(te);
    const git_oid* oid = git_tree_entry_id(te);
    if (mode == GIT_FILEMODE_TREE) {
      git_tree* raw = nullptr;
      int err = git_tree_lookup(&raw, repo.get(), oid);
      if (err < 0) return GitError(err, "reading tree " + OidHex(*oid) + " of '" + path + "'");
      GitPtr<git_tree> sub(raw);
      VREPO_RETURN_IF_ERROR(ReadTreeInto(sub.get(), path + "/", out));
    } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
      out->push_back({*oid, std::move(path), mode});
    } else {
      return Status::Corruption("tree " + OidHex(*git_tree_id(tree)) + ": entry '" + path +
                                "' has unsupported mode " + std::to_string(mode));
    }
  }
  return Status::OK();
}

Result<std::vector<FileEntry>> History::Impl::ReadPointers(std::vector<PendingPointer> pending) {
  std::vector<FileEntry> files(pending.size());
  std::vector<Status> errors(pending.size());
  auto read_one = [&](size_t i) {
    Result<FileEntry> e = ReadPointer(pending[i].blob, std::move(pending[i].path), pending[i].mode);
    if (e.ok()) {
      files[i] = std::move(*e);
    } else {
      errors[i] = e.status();
    }
  };
  // libgit2's odb is thread-safe; reading the pointers of a big tree on all cores halves
  // the time dataset commands spend loading a million-file commit.
  if (pending.size() < 4096) {
    for (size_t i = 0; i < pending.size(); ++i) read_one(i);
  } else {
    ThreadPool pool;
    VREPO_RETURN_IF_ERROR(pool.ParallelFor(pending.size(), read_one));
  }
  for (const Status& st : errors) VREPO_RETURN_IF_ERROR(st);
  return files;
}

Result<std::vector<FileEntry>> History::ReadTree(const std::string& tree_or_commit) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(tree_or_commit, GIT_OBJECT_TREE));
  std::vector<PendingPointer> pending;
  VREPO_RETURN_IF_ERROR(
      impl_->ReadTreeInto(reinterpret_cast<const git_tree*>(obj.get()), "", &pending));
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, impl_->ReadPointers(std::move(pending)));
  // Git orders a folder as if its name ended in '/', which differs from byte order.
  auto by_path = [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; };
  if (!std::is_sorted(files.begin(), files.end(), by_path)) {
    std::sort(files.begin(), files.end(), by_path);
  }
  return files;
}

}  // namespace vrepo
