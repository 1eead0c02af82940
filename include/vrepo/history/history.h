// History: commits, trees, branches, tags and refs in .vrepo/meta, a standard bare git
// repository written through libgit2. Each file in a tree is a small pointer blob
// ("sha256:<hex> <size>\n") naming its content in the object store, so any git tool can
// read the history. One History belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/util/status.h"

namespace vrepo {

// The ref namespaces of branches, tags and remote-tracking branches.
inline constexpr std::string_view kHeadsPrefix = "refs/heads/";
inline constexpr std::string_view kTagsPrefix = "refs/tags/";
inline constexpr std::string_view kRemotesPrefix = "refs/remotes/";

// A file as a commit records it. `path` is relative to the repository root, '/'-separated.
struct FileEntry {
  std::string path;
  ContentId id;
  uint64_t size = 0;
  bool executable = false;
  bool operator==(const FileEntry& o) const {
    return path == o.path && id == o.id && size == o.size && executable == o.executable;
  }
};

struct CommitInfo {
  std::string id;    // 40 hex digits
  std::string tree;  // 40 hex digits
  std::vector<std::string> parents;
  std::string author_name;
  std::string author_email;
  int64_t time = 0;  // seconds since the epoch
  int tz_offset_minutes = 0;
  std::string message;
};

struct RefInfo {
  std::string name;      // short name: "main", "v1"
  std::string target;    // commit id it points at (peeled for annotated tags)
  bool current = false;  // for branches: HEAD points at it
};

// The pointer blob's text for a file, and its parse (Corruption naming `where` if malformed).
std::string PointerText(const ContentId& id, uint64_t size);
Status ParsePointer(std::string_view text, const std::string& where, ContentId* id, uint64_t* size);

// What a set of commits adds to history that another set already has (see NewHistory).
struct HistoryDelta {
  std::vector<std::string> commits;  // reachable from the wants and not from the haves
  // One entry per distinct content id that the new trees name (with one path naming it),
  // leaving out files the haves' trees already hold.
  std::vector<FileEntry> files;
};

class History {
 public:
  // Creates a bare repository at `meta_dir` whose HEAD points at refs/heads/main.
  static Status Init(const std::string& meta_dir);
  static Result<std::unique_ptr<History>> Open(const std::string& meta_dir);
  ~History();

  // Writes the tree of `files` (any order; folders are implied by paths) and returns its
  // id. Many objects are written as one git pack, with no delta search over pointers.
  Result<std::string> WriteTree(const std::vector<FileEntry>& files);
  // Returns the files of a tree, or of a commit's tree, sorted by path (byte order).
  Result<std::vector<FileEntry>> ReadTree(const std::string& tree_or_commit);
  // Writes a commit object; moves no ref. Author and committer come from GIT_AUTHOR_NAME /
  // GIT_AUTHOR_EMAIL, then the git config user.name / user.email, then "vrepo".
  Result<std::string> CreateCommit(const std::string& tree, const std::vector<std::string>& parents,
                                   const std::string& message);

  // Resolves a revision (HEAD, branch, tag, full or short id, REV~N, REV^) to a commit id.
  // NotFound: "unknown revision 'REV'".
  Result<std::string> ResolveCommit(const std::string& rev);
  Result<CommitInfo> GetCommit(const std::string& commit_id);
  // Commits reachable from `start_commit`, newest first, at most `max_count` (0 = all).
  Result<std::vector<CommitInfo>> Log(const std::string& start_commit, size_t max_count);
  // Commits reachable from any of `start_commits`, children before parents, at most
  // `max_count` (0 = all). With `paths` (root-relative; "" is the root), only the commits
  // that change something under one of them compared with every parent, as `git log --
  // PATH` lists them (a root commit counts when it holds something there).
  Result<std::vector<CommitInfo>> Log(const std::vector<std::string>& start_commits,
                                      size_t max_count, const std::vector<std::string>& paths);
  // The file at `path` in a commit's tree. NotFound when nothing is there, InvalidArgument
  // when `path` is a folder.
  Result<FileEntry> FileAt(const std::string& commit, const std::string& path);

  // The best common ancestor of commits `a` and `b` (as git merge-base); nullopt when they
  // share no history.
  Result<std::optional<std::string>> MergeBase(const std::string& a, const std::string& b);

  // The commit HEAD points at; nullopt on an unborn branch.
  Result<std::optional<std::string>> HeadCommit();
  // The branch HEAD points at ("main"); nullopt when HEAD is detached.
  Result<std::optional<std::string>> CurrentBranch();
  // Moves what HEAD points at (the current branch, or the detached HEAD) to `commit`, but
  // only if it still points at `expected_old` (nullopt = unborn): a compare-and-swap.
  Status AdvanceHead(const std::string& commit, const std::optional<std::string>& expected_old,
                     const std::string& reflog_message);
  // Points HEAD at branch `name` (which must exist, unless the repository has no commits).
  Status SetHeadToBranch(const std::string& name);
  // Detaches HEAD at `commit`.
  Status DetachHead(const std::string& commit);

  Result<std::vector<RefInfo>> Branches();
  Status CreateBranch(const std::string& name, const std::string& commit, bool force);
  // Refuses to delete the current branch.
  Status DeleteBranch(const std::string& name);
  Result<std::vector<RefInfo>> Tags();
  // An annotated tag when `message` is non-empty, else a lightweight one.
  Status CreateTag(const std::string& name, const std::string& commit, const std::string& message,
                   bool force);
  Status DeleteTag(const std::string& name);

  // Refs whose full name starts with `prefix` (e.g. "refs/runs/"), sorted by name; each
  // RefInfo's name is the full name with `prefix` removed, its target the peeled commit.
  Result<std::vector<RefInfo>> RefsWithPrefix(const std::string& prefix);
  // The distinct commits that refs point at, sorted: what a repository is known to hold
  // completely (have/want negotiation, connectivity checks).
  Result<std::vector<std::string>> RefTips();
  // Creates ref `full_name` ("refs/runs/x") at `commit`. InvalidArgument "ref 'NAME' already
  // exists" when it does, or when the name is not a valid ref name.
  Status CreateRef(const std::string& full_name, const std::string& commit);

  // ---- exchange with another repository (remote/) ----
  // The commits reachable from `wants` and not from `haves`, and the content their trees
  // name beyond what the haves' trees name. Haves this repository lacks are ignored; a want,
  // or any commit, tree or pointer reachable from one, that is missing or unreadable is an
  // error naming it, so this is also the connectivity check before a ref moves.
  Result<HistoryDelta> NewHistory(const std::vector<std::string>& wants,
                                  const std::vector<std::string>& haves);
  // A git pack (version 2, no deltas) of the commits NewHistory lists, with their new trees
  // and pointer blobs.
  Result<std::string> ExportPack(const std::vector<std::string>& wants,
                                 const std::vector<std::string>& haves);
  // Indexes a git pack into the object database (libgit2's indexer hashes every object and
  // checks the pack's checksum). Returns how many objects it held.
  Result<uint64_t> ImportPack(std::string_view pack);
  // Whether commit `id` (40 hex digits) is in the object database.
  bool HasCommit(const std::string& id);
  // The commit ref `full_name` points at (peeled); nullopt when there is no such ref.
  Result<std::optional<std::string>> ReadRef(const std::string& full_name);
  // Points ref `full_name` at `new_target` ("" deletes it), but only if it still points at
  // `expected_old` ("" = must not exist): a compare-and-swap. Conflict "ref NAME changed"
  // when it does not.
  Status UpdateRef(const std::string& full_name, const std::string& new_target,
                   const std::string& expected_old, const std::string& reflog_message);

  // Calls fn for every file of every tree reachable from any ref (all branches, tags,
  // refs/runs/*, HEAD); each distinct tree is read once.
  Status ForEachReachableFile(const std::function<void(const FileEntry&)>& fn);
  // Checks that every object reachable from any ref reads back and hashes to its id.
  // Returns one line per problem.
  Result<std::vector<std::string>> Fsck();

  const std::string& path() const;

 private:
  struct Impl;
  explicit History(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo
