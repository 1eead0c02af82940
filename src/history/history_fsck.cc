// fsck of the history: every object that a ref reaches is present, hashes to its id, has
// the type that names it, and (for trees and pointer blobs) parses.
#include "history_impl.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

namespace {

// An object still to check, and what names it.
struct FsckItem {
  git_oid oid;
  git_object_t expected;  // GIT_OBJECT_ANY for a ref's target
  std::string from;       // what names it, for the report
};

std::string LastGitMessage() {
  const git_error* e = git_error_last();
  return e ? e->message : "unknown error";
}

// The objects that the refs `names` point at; a ref that cannot be read is a problem.
std::vector<FsckItem> RefTargets(git_repository* repo, const std::vector<std::string>& names,
                                 std::vector<std::string>* problems) {
  std::vector<FsckItem> items;
  for (const std::string& name : names) {
    git_oid oid;
    int err = git_reference_name_to_id(&oid, repo, name.c_str());
    if (err == GIT_ENOTFOUND && name == "HEAD") continue;  // unborn
    if (err < 0) {
      problems->push_back("ref " + name + ": unreadable: " + LastGitMessage());
      continue;
    }
    items.push_back({oid, GIT_OBJECT_ANY, "ref " + name});
  }
  return items;
}

// Reads `item`'s object, checking that it is there, hashes to its id and has the type that
// names it; null (with the problem added) otherwise.
GitPtr<git_odb_object> ReadVerified(git_odb* odb, const FsckItem& item,
                                    std::vector<std::string>* problems) {
  std::string id = OidHex(item.oid);
  std::string kind =
      item.expected == GIT_OBJECT_ANY ? "object" : git_object_type2string(item.expected);
  std::string named = kind + " " + id + " (named by " + item.from + "): ";
  git_odb_object* raw = nullptr;
  int err = git_odb_read(&raw, odb, &item.oid);
  if (err < 0) {
    problems->push_back(named +
                        (err == GIT_ENOTFOUND ? "missing" : "unreadable: " + LastGitMessage()));
    return nullptr;
  }
  GitPtr<git_odb_object> obj(raw);
  git_object_t type = git_odb_object_type(obj.get());
  git_oid actual;
  err = git_odb_hash(&actual, git_odb_object_data(obj.get()), git_odb_object_size(obj.get()), type);
  if (err < 0 || !OidEq()(actual, item.oid)) {
    problems->push_back(named + "contents hash to " +
                        (err < 0 ? std::string("nothing") : OidHex(actual)));
    return nullptr;
  }
  if (item.expected != GIT_OBJECT_ANY && type != item.expected) {
    problems->push_back(named + "is a " + git_object_type2string(type));
    return nullptr;
  }
  return obj;
}

// Checks a tree's names and modes and pushes its entries (blobs only once).
void PushTreeEntries(git_tree* tree, const std::string& from, const FsckItem& item,
                     const OidSet& seen, std::vector<FsckItem>* stack,
                     std::vector<std::string>* problems) {
  Status names = CheckTree(tree, "");
  if (!names.ok()) problems->push_back(names.message() + " (named by " + item.from + ")");
  for (size_t i = 0; i < git_tree_entrycount(tree); ++i) {
    const git_tree_entry* te = git_tree_entry_byindex(tree, i);
    git_filemode_t mode = git_tree_entry_filemode(te);
    std::string entry_from = from + " as '" + git_tree_entry_name(te) + "'";
    if (mode == GIT_FILEMODE_TREE) {
      stack->push_back({*git_tree_entry_id(te), GIT_OBJECT_TREE, entry_from});
    } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
      if (!seen.count(*git_tree_entry_id(te))) {
        stack->push_back({*git_tree_entry_id(te), GIT_OBJECT_BLOB, entry_from});
      }
    } else {
      problems->push_back(entry_from + ": unsupported mode " + std::to_string(mode));
    }
  }
}

}  // namespace

Result<std::vector<std::string>> History::Fsck() {
  git_repository* repo = impl_->repo.get();
  std::vector<std::string> problems;
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> names, impl_->AllRefNames());
  names.push_back("HEAD");
  std::vector<FsckItem> stack = RefTargets(repo, names, &problems);

  OidSet seen;
  while (!stack.empty()) {
    FsckItem item = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(item.oid).second) continue;
    GitPtr<git_odb_object> obj = ReadVerified(impl_->odb.get(), item, &problems);
    if (!obj) continue;
    git_object_t type = git_odb_object_type(obj.get());
    std::string id = OidHex(item.oid);
    std::string from = std::string(git_object_type2string(type)) + " " + id;
    if (type == GIT_OBJECT_BLOB) {
      ContentId cid;
      uint64_t size;
      std::string_view text(static_cast<const char*>(git_odb_object_data(obj.get())),
                            git_odb_object_size(obj.get()));
      Status st = ParsePointer(text, "blob " + id + " (named by " + item.from + ")", &cid, &size);
      if (!st.ok()) problems.push_back(st.message());
      continue;
    }
    git_object* parsed = nullptr;
    if (git_object_lookup(&parsed, repo, &item.oid, type) < 0) {
      problems.push_back(from + ": cannot be parsed: " + LastGitMessage());
      continue;
    }
    GitPtr<git_object> owned(parsed);
    if (type == GIT_OBJECT_COMMIT) {
      auto* c = reinterpret_cast<git_commit*>(parsed);
      stack.push_back({*git_commit_tree_id(c), GIT_OBJECT_TREE, from});
      for (unsigned i = 0; i < git_commit_parentcount(c); ++i) {
        stack.push_back({*git_commit_parent_id(c, i), GIT_OBJECT_COMMIT, from});
      }
    } else if (type == GIT_OBJECT_TREE) {
      PushTreeEntries(reinterpret_cast<git_tree*>(parsed), from, item, seen, &stack, &problems);
    } else if (type == GIT_OBJECT_TAG) {
      auto* tag = reinterpret_cast<git_tag*>(parsed);
      stack.push_back({*git_tag_target_id(tag), git_tag_target_type(tag), from});
    }
  }
  return problems;
}

}  // namespace vrepo
