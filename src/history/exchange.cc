// Exchanging history with another repository: what a set of commits adds beyond another
// set (NewHistory), that history as a git pack (ExportPack), and a received pack checked and
// indexed (ImportPack).
#include <unordered_set>

#include "history_impl.h"
#include "pack_stream.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

namespace {

// Adds every tree and blob below `root` to `seen`, reading trees only.
Status MarkTree(git_repository* repo, const git_oid& root, OidSet* seen) {
  std::vector<git_oid> stack{root};
  while (!stack.empty()) {
    git_oid oid = stack.back();
    stack.pop_back();
    if (!seen->insert(oid).second) continue;
    git_tree* raw = nullptr;
    int err = git_tree_lookup(&raw, repo, &oid);
    if (err < 0) return GitError(err, "reading tree " + OidHex(oid));
    GitPtr<git_tree> tree(raw);
    for (size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
      const git_tree_entry* te = git_tree_entry_byindex(tree.get(), i);
      if (git_tree_entry_filemode(te) == GIT_FILEMODE_TREE) {
        stack.push_back(*git_tree_entry_id(te));
      } else {
        seen->insert(*git_tree_entry_id(te));
      }
    }
  }
  return Status::OK();
}

// The objects that commits reachable from wants and not from haves add.
struct NewObjects {
  std::vector<git_oid> commits;  // newest first
  std::vector<git_oid> trees;
  std::vector<PendingPointer> blobs;
};

// Adds the trees and blobs below `root` (of `commit`) that are not in `seen` to `out`,
// checking each tree's size and names on the way: these trees came from elsewhere.
Status AddNewTrees(git_repository* repo, git_odb* odb, const git_oid& commit, const git_oid& root,
                   OidSet* seen, NewObjects* out) {
  std::vector<std::pair<git_oid, std::string>> stack{{root, ""}};
  while (!stack.empty()) {
    auto [tree_oid, prefix] = std::move(stack.back());
    stack.pop_back();
    if (!seen->insert(tree_oid).second) continue;
    VREPO_RETURN_IF_ERROR(CheckObjectSize(odb, tree_oid));
    git_tree* t = nullptr;
    int err = git_tree_lookup(&t, repo, &tree_oid);
    if (err < 0) {
      return GitError(err, "reading tree " + OidHex(tree_oid) + " of commit " + OidHex(commit));
    }
    GitPtr<git_tree> tree(t);
    VREPO_RETURN_IF_ERROR(CheckTree(tree.get(), prefix));
    out->trees.push_back(tree_oid);
    for (size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
      const git_tree_entry* te = git_tree_entry_byindex(tree.get(), i);
      git_filemode_t mode = git_tree_entry_filemode(te);
      const git_oid* id = git_tree_entry_id(te);
      std::string path = prefix + git_tree_entry_name(te);
      if (mode == GIT_FILEMODE_TREE) {
        if (!seen->count(*id)) stack.emplace_back(*id, path + "/");
      } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
        if (seen->insert(*id).second) out->blobs.push_back({*id, std::move(path), mode});
      } else {
        return Status::Corruption("tree " + OidHex(tree_oid) + ": entry '" + path +
                                  "' has unsupported mode " + std::to_string(mode));
      }
    }
  }
  return Status::OK();
}

Status CollectNewObjects(git_repository* repo, git_odb* odb, const std::vector<std::string>& wants,
                         const std::vector<std::string>& haves, NewObjects* out) {
  git_revwalk* raw = nullptr;
  int err = git_revwalk_new(&raw, repo);
  if (err < 0) return GitError(err, "starting a history walk");
  GitPtr<git_revwalk> walk(raw);
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL);
  OidSet seen;
  for (const std::string& h : haves) {
    git_oid oid;
    if (h.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, h.c_str()) < 0) continue;
    git_commit* c = nullptr;
    if (!git_odb_exists(odb, &oid) || git_commit_lookup(&c, repo, &oid) < 0) continue;
    GitPtr<git_commit> commit(c);
    err = git_revwalk_hide(walk.get(), &oid);
    if (err < 0) return GitError(err, "walking history from " + h);
    VREPO_RETURN_IF_ERROR(MarkTree(repo, *git_commit_tree_id(commit.get()), &seen));
  }
  for (const std::string& w : wants) {
    VREPO_ASSIGN_OR_RETURN(git_oid oid, ParseFullOid(w, "commit"));
    if (!git_odb_exists(odb, &oid)) return Status::NotFound("commit " + w + " is missing");
    err = git_revwalk_push(walk.get(), &oid);
    if (err < 0) return GitError(err, "walking history from " + w);
  }
  git_oid oid;
  while ((err = git_revwalk_next(&oid, walk.get())) == 0) {
    VREPO_RETURN_IF_ERROR(CheckObjectSize(odb, oid));
    git_commit* c = nullptr;
    err = git_commit_lookup(&c, repo, &oid);
    if (err < 0) return GitError(err, "reading commit " + OidHex(oid));
    GitPtr<git_commit> commit(c);
    out->commits.push_back(oid);
    for (unsigned i = 0; i < git_commit_parentcount(commit.get()); ++i) {
      if (!git_odb_exists(odb, git_commit_parent_id(commit.get(), i))) {
        return Status::NotFound("commit " + OidHex(*git_commit_parent_id(commit.get(), i)) +
                                " (parent of " + OidHex(oid) + ") is missing");
      }
    }
    VREPO_RETURN_IF_ERROR(
        AddNewTrees(repo, odb, oid, *git_commit_tree_id(commit.get()), &seen, out));
  }
  if (err != GIT_ITEROVER) return GitError(err, "walking history");
  return Status::OK();
}

}  // namespace

Result<HistoryDelta> History::NewHistory(const std::vector<std::string>& wants,
                                         const std::vector<std::string>& haves) {
  NewObjects objects;
  VREPO_RETURN_IF_ERROR(
      CollectNewObjects(impl_->repo.get(), impl_->odb.get(), wants, haves, &objects));
  HistoryDelta delta;
  for (const git_oid& c : objects.commits) delta.commits.push_back(OidHex(c));
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files,
                         impl_->ReadPointers(std::move(objects.blobs)));
  std::unordered_set<ContentId, ContentIdHash> ids;
  for (FileEntry& f : files) {
    if (ids.insert(f.id).second) delta.files.push_back(std::move(f));
  }
  return delta;
}

Result<std::string> History::ExportPack(const std::vector<std::string>& wants,
                                        const std::vector<std::string>& haves) {
  NewObjects objects;
  VREPO_RETURN_IF_ERROR(
      CollectNewObjects(impl_->repo.get(), impl_->odb.get(), wants, haves, &objects));
  std::vector<git_oid> all;
  all.reserve(objects.commits.size() + objects.trees.size() + objects.blobs.size());
  all.insert(all.end(), objects.commits.begin(), objects.commits.end());
  all.insert(all.end(), objects.trees.begin(), objects.trees.end());
  for (const PendingPointer& b : objects.blobs) all.push_back(b.blob);
  return PackToString(impl_->odb.get(), all);
}

Result<uint64_t> History::ImportPack(std::string_view pack) {
  if (pack.size() < 32 || pack.substr(0, 4) != "PACK") {
    return Status::Corruption("received history is not a git pack (" + std::to_string(pack.size()) +
                              " bytes)");
  }
  auto be32 = [&](size_t at) {
    return uint32_t{static_cast<uint8_t>(pack[at])} << 24 |
           uint32_t{static_cast<uint8_t>(pack[at + 1])} << 16 |
           uint32_t{static_cast<uint8_t>(pack[at + 2])} << 8 |
           uint32_t{static_cast<uint8_t>(pack[at + 3])};
  };
  if (be32(4) != 2 && be32(4) != 3) {
    return Status::Corruption("received git pack has version " + std::to_string(be32(4)));
  }
  if (be32(8) == 0) {
    if (pack.size() != 32) return Status::Corruption("received empty git pack has extra bytes");
    return uint64_t{0};
  }
  VREPO_RETURN_IF_ERROR(CheckReceivedPack(pack));
  std::string pack_dir = impl_->path + "/objects/pack";
  git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
  git_indexer* raw = nullptr;
  int err = git_indexer_new(&raw, pack_dir.c_str(), 0, impl_->odb.get(), &opts);
  if (err < 0) return GitError(err, "starting to index a received pack");
  std::unique_ptr<git_indexer, void (*)(git_indexer*)> idx(raw, git_indexer_free);
  git_indexer_progress stats{};
  err = git_indexer_append(idx.get(), pack.data(), pack.size(), &stats);
  if (err >= 0) err = git_indexer_commit(idx.get(), &stats);
  if (err < 0) {
    Status st = GitError(err, "indexing received git pack");
    return Status::Corruption(st.message());
  }
  err = git_odb_refresh(impl_->odb.get());
  if (err < 0) return GitError(err, "refreshing the object database");
  return uint64_t{stats.indexed_objects};
}

}  // namespace vrepo
