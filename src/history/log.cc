// The log: walking commits from one or more starts, children before parents, optionally
// keeping only the commits that change something under given paths.
#include "history_impl.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

namespace {

// What `path` names in `tree` (its mode and object id), "" when nothing is there. Comparing
// these ids, not the files below, makes a folder's check one lookup per commit.
Result<std::string> EntryKey(const git_tree* tree, const std::string& path) {
  if (path.empty()) return OidHex(*git_tree_id(tree));
  git_tree_entry* raw = nullptr;
  int err = git_tree_entry_bypath(&raw, tree, path.c_str());
  if (err == GIT_ENOTFOUND) return std::string();
  if (err < 0) return GitError(err, "reading '" + path + "' of tree " + OidHex(*git_tree_id(tree)));
  GitPtr<git_tree_entry> entry(raw);
  return std::to_string(git_tree_entry_filemode(entry.get())) + " " +
         OidHex(*git_tree_entry_id(entry.get()));
}

Result<std::vector<std::string>> PathKeys(const git_commit* commit,
                                          const std::vector<std::string>& paths) {
  git_tree* raw = nullptr;
  int err = git_commit_tree(&raw, commit);
  if (err < 0) return GitError(err, "tree of commit " + OidHex(*git_commit_id(commit)));
  GitPtr<git_tree> tree(raw);
  std::vector<std::string> keys;
  for (const std::string& p : paths) {
    VREPO_ASSIGN_OR_RETURN(std::string key, EntryKey(tree.get(), p));
    keys.push_back(std::move(key));
  }
  return keys;
}

// As git log -- PATH: a commit counts unless it equals some parent under the paths (so a
// merge that took one side's files as they were is left out).
Result<bool> ChangesPaths(const git_commit* commit, const std::vector<std::string>& paths) {
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> keys, PathKeys(commit, paths));
  unsigned parents = git_commit_parentcount(commit);
  if (parents == 0) {
    for (const auto& k : keys) {
      if (!k.empty()) return true;
    }
    return false;
  }
  for (unsigned i = 0; i < parents; ++i) {
    git_commit* raw = nullptr;
    int err = git_commit_parent(&raw, commit, i);
    if (err < 0) return GitError(err, "parent of commit " + OidHex(*git_commit_id(commit)));
    GitPtr<git_commit> parent(raw);
    VREPO_ASSIGN_OR_RETURN(std::vector<std::string> parent_keys, PathKeys(parent.get(), paths));
    if (parent_keys == keys) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<CommitInfo>> History::Log(const std::string& start_commit, size_t max_count) {
  return Log(std::vector<std::string>{start_commit}, max_count, {});
}

Result<std::vector<CommitInfo>> History::Log(const std::vector<std::string>& start_commits,
                                             size_t max_count,
                                             const std::vector<std::string>& paths) {
  git_revwalk* raw = nullptr;
  int err = git_revwalk_new(&raw, impl_->repo.get());
  if (err < 0) return GitError(err, "starting log");
  GitPtr<git_revwalk> walk(raw);
  // Topological as well, so that commits made within one second still list children first.
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  for (const std::string& start : start_commits) {
    VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(start, GIT_OBJECT_COMMIT));
    err = git_revwalk_push(walk.get(), git_object_id(obj.get()));
    if (err < 0) return GitError(err, "log of " + start);
  }
  std::vector<CommitInfo> out;
  git_oid oid;
  while (max_count == 0 || out.size() < max_count) {
    err = git_revwalk_next(&oid, walk.get());
    if (err == GIT_ITEROVER) break;
    if (err < 0) return GitError(err, "walking the log");
    git_commit* c = nullptr;
    err = git_commit_lookup(&c, impl_->repo.get(), &oid);
    if (err < 0) return GitError(err, "reading commit " + OidHex(oid));
    GitPtr<git_commit> commit(c);
    if (!paths.empty()) {
      VREPO_ASSIGN_OR_RETURN(bool changes, ChangesPaths(commit.get(), paths));
      if (!changes) continue;
    }
    out.push_back(ToCommitInfo(commit.get()));
  }
  return out;
}

Result<FileEntry> History::FileAt(const std::string& commit, const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(commit, GIT_OBJECT_TREE));
  const auto* tree = reinterpret_cast<const git_tree*>(obj.get());
  git_tree_entry* raw = nullptr;
  int err = path.empty() ? GIT_ENOTFOUND : git_tree_entry_bypath(&raw, tree, path.c_str());
  if (err == GIT_ENOTFOUND) return Status::NotFound("no file '" + path + "'");
  if (err < 0) return GitError(err, "reading '" + path + "'");
  GitPtr<git_tree_entry> entry(raw);
  if (git_tree_entry_type(entry.get()) == GIT_OBJECT_TREE) {
    return Status::InvalidArgument("'" + path + "' is a folder");
  }
  return impl_->ReadPointer(*git_tree_entry_id(entry.get()), path,
                            git_tree_entry_filemode(entry.get()));
}

}  // namespace vrepo
