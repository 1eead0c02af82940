// What the refs reach: every file of every commit that a ref or HEAD names, for fsck and gc.
#include "history_impl.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

Status History::Impl::CollectTips(std::vector<git_oid>* commits, std::vector<git_oid>* trees) {
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> names, AllRefNames());
  names.push_back("HEAD");
  for (const std::string& name : names) {
    VREPO_ASSIGN_OR_RETURN(std::optional<git_oid> target, RefTarget(name));
    if (!target) continue;
    git_object* raw = nullptr;
    int err = git_object_lookup(&raw, repo.get(), &*target, GIT_OBJECT_ANY);
    if (err < 0) return GitError(err, "ref " + name + ": reading " + OidHex(*target));
    GitPtr<git_object> obj(raw);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_COMMIT) == 0) {
      commits->push_back(*git_object_id(peeled));
    } else if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_TREE) == 0) {
      trees->push_back(*git_object_id(peeled));
    }
    git_object_free(peeled);
  }
  return Status::OK();
}

namespace {

// Appends the tree of every commit reachable from `commits` to `trees`.
Status AppendCommitTrees(git_repository* repo, const std::vector<git_oid>& commits,
                         std::vector<git_oid>* trees) {
  if (commits.empty()) return Status::OK();
  git_revwalk* raw = nullptr;
  int err = git_revwalk_new(&raw, repo);
  if (err < 0) return GitError(err, "starting a history walk");
  GitPtr<git_revwalk> walk(raw);
  for (const git_oid& c : commits) {
    err = git_revwalk_push(walk.get(), &c);
    if (err < 0) return GitError(err, "walking from commit " + OidHex(c));
  }
  git_oid oid;
  while ((err = git_revwalk_next(&oid, walk.get())) == 0) {
    git_commit* c = nullptr;
    err = git_commit_lookup(&c, repo, &oid);
    if (err < 0) return GitError(err, "reading commit " + OidHex(oid));
    trees->push_back(*git_commit_tree_id(c));
    git_commit_free(c);
  }
  if (err != GIT_ITEROVER) return GitError(err, "walking history");
  return Status::OK();
}

}  // namespace

Status History::ForEachReachableFile(const std::function<void(const FileEntry&)>& fn) {
  git_repository* repo = impl_->repo.get();
  std::vector<git_oid> commits, trees;
  VREPO_RETURN_IF_ERROR(impl_->CollectTips(&commits, &trees));
  VREPO_RETURN_IF_ERROR(AppendCommitTrees(repo, commits, &trees));

  OidSet seen;
  // Depth-first over (tree, path prefix); a tree seen before, anywhere, is skipped whole.
  std::vector<std::pair<git_oid, std::string>> stack;
  for (const git_oid& t : trees) stack.emplace_back(t, "");
  while (!stack.empty()) {
    auto [tree_oid, prefix] = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(tree_oid).second) continue;
    git_tree* raw = nullptr;
    int err = git_tree_lookup(&raw, repo, &tree_oid);
    if (err < 0) return GitError(err, "reading tree " + OidHex(tree_oid));
    GitPtr<git_tree> tree(raw);
    size_t n = git_tree_entrycount(tree.get());
    for (size_t i = 0; i < n; ++i) {
      const git_tree_entry* te = git_tree_entry_byindex(tree.get(), i);
      std::string path = prefix + git_tree_entry_name(te);
      git_filemode_t mode = git_tree_entry_filemode(te);
      if (mode == GIT_FILEMODE_TREE) {
        if (!seen.count(*git_tree_entry_id(te))) {
          stack.emplace_back(*git_tree_entry_id(te), path + "/");
        }
      } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
        VREPO_ASSIGN_OR_RETURN(FileEntry e,
                               impl_->ReadPointer(*git_tree_entry_id(te), std::move(path), mode));
        fn(e);
      } else {
        return Status::Corruption("tree " + OidHex(tree_oid) + ": entry '" + path +
                                  "' has unsupported mode " + std::to_string(mode));
      }
    }
  }
  return Status::OK();
}

}  // namespace vrepo
