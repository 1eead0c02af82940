// vrepo merge: three-way merge over files by path, label tables merged by sample path.
#include "vrepo/dataset/merge.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "vrepo/worktree/worktree.h"

namespace vrepo {

namespace {

// What one side has at a path.
using Side = std::optional<FileEntry>;

bool SameFile(const Side& a, const Side& b) {
  if (!a || !b) return !a && !b;
  return a->id == b->id && a->executable == b->executable;
}

// A parsed version of a table, indexed by key.
struct KeyedTable {
  LabelTable table;
  std::unordered_map<std::string, size_t> by_path;  // path -> row index
};

Result<KeyedTable> ParseKeyed(std::string_view text, const std::string& source,
                              const std::string& side, const TableOptions& options) {
  KeyedTable k;
  auto parsed = ParseLabelTable(text, source, options);
  if (!parsed.ok()) {
    return Status::InvalidArgument(side + ": " + parsed.status().message());
  }
  k.table = std::move(parsed).value();
  k.by_path.reserve(k.table.rows.size());
  for (size_t i = 0; i < k.table.rows.size(); ++i) {
    const LabelRow& row = k.table.rows[i];
    if (!k.by_path.emplace(row.path, i).second) {
      return Status::InvalidArgument(source + ":" + std::to_string(row.line) + ": path '" +
                                     row.path + "' appears twice in " + side +
                                     " (cannot merge by key)");
    }
  }
  return k;
}

const LabelRow* Find(const KeyedTable& t, const std::string& path) {
  auto it = t.by_path.find(path);
  return it == t.by_path.end() ? nullptr : &t.table.rows[it->second];
}

// The two sides of a label conflict as the user should see them: the labels, or the whole
// records when the labels agree and another column differs.
MergeConflict LabelConflict(const std::string& source, const std::string& key, const LabelRow* o,
                            const LabelRow* t) {
  MergeConflict c{"label", source, key, o ? o->label : "", t ? t->label : ""};
  if (o && t && o->label == t->label) {
    c.ours = o->record;
    c.theirs = t->record;
  }
  return c;
}

// Fails with Conflict when the working tree holds changes the merge would overwrite, or an
// untracked file where `target` puts a file (or needs a folder).
Status CheckWorktreeClean(Repository& repo, const std::vector<FileEntry>& target) {
  VREPO_ASSIGN_OR_RETURN(StatusReport status, ComputeStatus(repo));
  std::vector<std::string> untracked;
  for (const auto& e : status.entries) {
    if (e.staged || (e.unstaged && *e.unstaged != ChangeKind::kUntracked)) {
      return Status::Conflict("your local changes to '" + e.path +
                              "' would be overwritten by merge [commit them first]");
    }
    if (e.unstaged) untracked.push_back(e.path);
  }
  auto in_the_way = [](const std::string& path) {
    return Status::Conflict("the untracked file '" + path +
                            "' would be overwritten by merge [move it away first]");
  };
  for (const auto& f : target) {
    if (std::binary_search(untracked.begin(), untracked.end(), f.path)) return in_the_way(f.path);
    auto it = std::lower_bound(untracked.begin(), untracked.end(), f.path + "/");
    if (it != untracked.end() && it->compare(0, f.path.size() + 1, f.path + "/") == 0) {
      return in_the_way(*it);
    }
    for (std::string dir = f.path; dir.find('/') != std::string::npos;) {
      dir.erase(dir.rfind('/'));
      if (std::binary_search(untracked.begin(), untracked.end(), dir)) return in_the_way(dir);
    }
  }
  return Status::OK();
}

uint64_t CountChanges(const std::vector<FileEntry>& from, const std::vector<FileEntry>& to) {
  return DiffFiles(from, to).size();
}

// Per path, the three versions; sorted by path.
struct PathVersions {
  std::string path;
  Side base, ours, theirs;
};

std::vector<PathVersions> JoinByPath(const std::vector<FileEntry>& base,
                                     const std::vector<FileEntry>& ours,
                                     const std::vector<FileEntry>& theirs) {
  std::map<std::string, PathVersions> all;
  for (const auto& f : base) all[f.path].base = f;
  for (const auto& f : ours) all[f.path].ours = f;
  for (const auto& f : theirs) all[f.path].theirs = f;
  std::vector<PathVersions> out;
  out.reserve(all.size());
  for (auto& [path, v] : all) {
    v.path = path;
    out.push_back(std::move(v));
  }
  return out;
}

// The three-way merge of all files. `merged` gets the clean result (for conflicted files:
// the version the working tree gets), `unresolved` the staging entries that mark conflicted
// files (ours' version, or theirs' when ours deleted the file).
struct TreeMerge {
  std::vector<FileEntry> merged;
  std::vector<FileEntry> unresolved;
  std::vector<MergeConflict> conflicts;
  std::vector<std::string> tables_merged;
};

// Images that both sides moved, bytes unchanged, from the base's class folder to two
// different class folders of the same folder table (AsClassMove): the same sample labeled
// differently, a label conflict like a CSV row's. The working tree keeps ours' move.
void AddClassMoveConflicts(const std::vector<PathVersions>& joined, TreeMerge* out) {
  std::vector<const FileEntry*> gone;
  std::unordered_multimap<ContentId, const FileEntry*, ContentIdHash> ours_new, theirs_new;
  for (const auto& v : joined) {
    if (v.base && !v.ours && !v.theirs) gone.push_back(&*v.base);
  }
  if (gone.empty()) return;  // the common case: no index of the added files needed
  for (const auto& v : joined) {
    if (!v.base && v.ours && !v.theirs) ours_new.emplace(v.ours->id, &*v.ours);
    if (!v.base && !v.ours && v.theirs) theirs_new.emplace(v.theirs->id, &*v.theirs);
  }
  // The one file of `added` that is `base` moved to another class folder, if exactly one.
  auto moved_to = [](const FileEntry& base, const auto& added) -> std::optional<FileEntry> {
    std::optional<FileEntry> found;
    auto [begin, end] = added.equal_range(base.id);
    for (auto it = begin; it != end; ++it) {
      if (!AsClassMove(base.path, it->second->path)) continue;
      if (found) return std::nullopt;
      found = *it->second;
    }
    return found;
  };
  std::unordered_set<std::string> dropped;
  for (const FileEntry* base : gone) {
    std::optional<FileEntry> ours = moved_to(*base, ours_new);
    std::optional<FileEntry> theirs = moved_to(*base, theirs_new);
    if (!ours || !theirs) continue;
    std::optional<ClassMove> o = AsClassMove(base->path, ours->path);
    std::optional<ClassMove> t = AsClassMove(base->path, theirs->path);
    if (o->table != t->table) continue;
    out->conflicts.push_back({"label", o->table, base->path, o->new_class, t->new_class});
    out->unresolved.push_back(*ours);
    dropped.insert(theirs->path);
  }
  if (dropped.empty()) return;
  auto& merged = out->merged;
  merged.erase(std::remove_if(merged.begin(), merged.end(),
                              [&](const FileEntry& f) { return dropped.count(f.path) > 0; }),
               merged.end());
  std::stable_sort(out->conflicts.begin(), out->conflicts.end(),
                   [](const MergeConflict& a, const MergeConflict& b) { return a.file < b.file; });
}

Result<TreeMerge> MergeTrees(Repository& repo, const std::vector<FileEntry>& base_files,
                             const std::vector<FileEntry>& ours_files,
                             const std::vector<FileEntry>& theirs_files,
                             const TableOptions& options, PackWriter* writer) {
  TreeMerge out;
  const ObjectStore& store = repo.store();
  const std::vector<PathVersions> joined = JoinByPath(base_files, ours_files, theirs_files);
  for (const auto& v : joined) {
    if (SameFile(v.ours, v.theirs) || SameFile(v.theirs, v.base)) {
      if (v.ours) out.merged.push_back(*v.ours);
      continue;
    }
    if (SameFile(v.ours, v.base)) {
      if (v.theirs) out.merged.push_back(*v.theirs);
      continue;
    }
    // Changed differently on both sides.
    if (!v.ours || !v.theirs) {
      const FileEntry& kept = v.ours ? *v.ours : *v.theirs;
      out.conflicts.push_back({v.ours ? "modify/delete" : "delete/modify", v.path, "", "", ""});
      out.merged.push_back(kept);
      out.unresolved.push_back(kept);
      continue;
    }
    FileEntry result = *v.ours;
    // The executable bit merges on its own, like the content id.
    if (v.base && v.ours->executable == v.base->executable) {
      result.executable = v.theirs->executable;
    }
    if (v.ours->id == v.theirs->id) {
      out.merged.push_back(result);
      continue;
    }
    if (v.base && v.ours->id == v.base->id) {
      result.id = v.theirs->id;
      result.size = v.theirs->size;
      out.merged.push_back(result);
      continue;
    }
    if (v.base && v.theirs->id == v.base->id) {
      out.merged.push_back(result);
      continue;
    }
    // Contents differ on both sides: only label tables can be merged further.
    std::optional<TableMergeResult> table;
    if (TableFormatForPath(v.path).ok()) {
      std::optional<std::string> base_text;
      if (v.base) {
        VREPO_ASSIGN_OR_RETURN(base_text, store.Get(v.base->id));
      }
      VREPO_ASSIGN_OR_RETURN(std::string ours_text, store.Get(v.ours->id));
      VREPO_ASSIGN_OR_RETURN(std::string theirs_text, store.Get(v.theirs->id));
      std::optional<std::string_view> base_view;
      if (base_text) base_view = *base_text;
      auto merged = MergeLabelTables(base_view, ours_text, theirs_text, v.path, options);
      if (merged.ok()) {
        table = std::move(merged).value();
      } else if (merged.status().code() != Status::Code::kInvalidArgument) {
        return merged.status();
      }
    }
    if (!table) {
      out.conflicts.push_back({v.base ? "content" : "add/add", v.path, "", "", ""});
      out.merged.push_back(result);
      out.unresolved.push_back(*v.ours);
      continue;
    }
    VREPO_ASSIGN_OR_RETURN(result.id, writer->Put(table->text));
    result.size = table->text.size();
    out.merged.push_back(result);
    if (table->conflicts.empty()) {
      out.tables_merged.push_back(v.path);
    } else {
      out.unresolved.push_back(*v.ours);
      out.conflicts.insert(out.conflicts.end(), table->conflicts.begin(), table->conflicts.end());
    }
  }
  AddClassMoveConflicts(joined, &out);
  return out;
}

}  // namespace

Result<TableMergeResult> MergeLabelTables(const std::optional<std::string_view>& base,
                                          std::string_view ours, std::string_view theirs,
                                          const std::string& source, const TableOptions& options) {
  KeyedTable b;
  if (base) {
    VREPO_ASSIGN_OR_RETURN(b, ParseKeyed(*base, source, "the merge base", options));
  }
  VREPO_ASSIGN_OR_RETURN(KeyedTable o, ParseKeyed(ours, source, "ours", options));
  VREPO_ASSIGN_OR_RETURN(KeyedTable t, ParseKeyed(theirs, source, "theirs", options));
  TableMergeResult result;
  if (o.table.header != t.table.header || (base && b.table.header != o.table.header)) {
    result.text = std::string(ours);
    result.conflicts.push_back({"header", source, "", "", ""});
    return result;
  }

  LabelTable merged;
  merged.source = source;
  merged.format = o.table.format;
  merged.header = o.table.header;
  merged.header_fields = o.table.header_fields;
  merged.columns = o.table.columns;
  merged.rows.reserve(std::max(o.table.rows.size(), t.table.rows.size()));
  // Ours' rows in ours' order, each merged with the other versions of its key.
  for (const LabelRow& orow : o.table.rows) {
    const LabelRow* brow = Find(b, orow.path);
    const LabelRow* trow = Find(t, orow.path);
    if (!trow) {
      // Theirs deleted it (or ours added it): deleting wins only over an unchanged row.
      if (brow && brow->record == orow.record) continue;
      if (brow) result.conflicts.push_back(LabelConflict(source, orow.path, &orow, nullptr));
      merged.rows.push_back(orow);
    } else if (trow->record == orow.record || (brow && brow->record == trow->record)) {
      merged.rows.push_back(orow);
    } else if (brow && brow->record == orow.record) {
      merged.rows.push_back(*trow);
    } else {
      result.conflicts.push_back(LabelConflict(source, orow.path, &orow, trow));
      merged.rows.push_back(orow);
    }
  }
  // Theirs' rows that ours lacks: new ones are appended; a row ours deleted stays deleted
  // unless theirs changed it.
  for (const LabelRow& trow : t.table.rows) {
    if (Find(o, trow.path)) continue;
    const LabelRow* brow = Find(b, trow.path);
    if (!brow) {
      merged.rows.push_back(trow);
    } else if (brow->record != trow.record) {
      result.conflicts.push_back(LabelConflict(source, trow.path, nullptr, &trow));
    }
  }
  result.text = SerializeTable(merged);
  return result;
}

Result<MergeResult> Merge(Repository& repo, const std::string& rev, const MergeOptions& options) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  if (repo.read_only()) {
    return Status::InvalidArgument("merge needs the repository opened for writing");
  }
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::optional<MergeState> in_progress, ReadMergeState(repo));
  if (in_progress) {
    return Status::Conflict("a merge of " + in_progress->merge_head.substr(0, 7) +
                            " is in progress");
  }
  MergeResult result;
  VREPO_ASSIGN_OR_RETURN(result.theirs, history.ResolveCommit(rev));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  CheckoutOptions checkout;
  checkout.force = true;  // CheckWorktreeClean ran first
  checkout.reporter = options.reporter;
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> theirs_files, history.ReadTree(result.theirs));
  VREPO_ASSIGN_OR_RETURN(CommitInfo theirs_info, history.GetCommit(result.theirs));

  if (head) {
    result.head = *head;
    if (*head == result.theirs) return result;
    VREPO_ASSIGN_OR_RETURN(result.base, history.MergeBase(*head, result.theirs));
    if (result.base == result.theirs) return result;
  }
  std::vector<FileEntry> ours_files;
  if (head) {
    VREPO_ASSIGN_OR_RETURN(ours_files, history.ReadTree(*head));
  }

  if (!head || result.base == head) {
    VREPO_RETURN_IF_ERROR(CheckWorktreeClean(repo, theirs_files));
    VREPO_RETURN_IF_ERROR(CheckoutFiles(repo, theirs_files, theirs_info.tree, checkout));
    VREPO_RETURN_IF_ERROR(
        history.AdvanceHead(result.theirs, head, "merge " + rev + ": Fast-forward"));
    result.outcome = MergeOutcome::kFastForward;
    result.commit = result.theirs;
    result.files_changed = CountChanges(ours_files, theirs_files);
    return result;
  }

  std::vector<FileEntry> base_files;
  if (result.base) {
    VREPO_ASSIGN_OR_RETURN(base_files, history.ReadTree(*result.base));
  }
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, repo.store().NewWriter());
  VREPO_ASSIGN_OR_RETURN(TreeMerge merge, MergeTrees(repo, base_files, ours_files, theirs_files,
                                                     options.table, writer.get()));
  VREPO_RETURN_IF_ERROR(CheckWorktreeClean(repo, merge.merged));
  // Merged tables (and the partly merged ones the working tree gets) become durable before
  // anything names them.
  VREPO_RETURN_IF_ERROR(writer->Commit(nullptr));
  result.tables_merged = std::move(merge.tables_merged);
  result.files_changed = CountChanges(ours_files, merge.merged);

  MergeState state;
  state.merge_head = result.theirs;
  state.orig_head = *head;
  state.conflicts = merge.conflicts;
  if (!merge.conflicts.empty()) {
    // Written before the working tree changes, so an interrupted merge can be aborted.
    VREPO_RETURN_IF_ERROR(WriteMergeState(repo, state));
    VREPO_RETURN_IF_ERROR(CheckoutFiles(repo, merge.merged, "", checkout));
    VREPO_RETURN_IF_ERROR(StageUnresolved(repo, merge.unresolved));
    result.outcome = MergeOutcome::kConflicts;
    result.conflicts = std::move(merge.conflicts);
    return result;
  }

  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> branches, history.Branches());
  bool is_branch = std::any_of(branches.begin(), branches.end(),
                               [&](const RefInfo& b) { return b.name == rev; });
  std::string message = (is_branch ? "Merge branch '" : "Merge commit '") + rev + "'\n";
  VREPO_ASSIGN_OR_RETURN(std::string tree, history.WriteTree(merge.merged));
  VREPO_ASSIGN_OR_RETURN(result.commit,
                         history.CreateCommit(tree, {*head, result.theirs}, message));
  // The state lets a merge interrupted after the working tree changed be committed or
  // aborted; the ref moves last, which makes the state stale (ReadMergeState).
  VREPO_RETURN_IF_ERROR(WriteMergeState(repo, state));
  VREPO_RETURN_IF_ERROR(CheckoutFiles(repo, merge.merged, tree, checkout));
  VREPO_RETURN_IF_ERROR(
      history.AdvanceHead(result.commit, head, "merge " + rev + ": Merge made by vrepo"));
  VREPO_RETURN_IF_ERROR(RemoveMergeState(repo));
  result.outcome = MergeOutcome::kMerged;
  return result;
}

Status AbortMerge(Repository& repo) {
  if (repo.read_only()) {
    return Status::InvalidArgument("merge --abort needs the repository opened for writing");
  }
  VREPO_ASSIGN_OR_RETURN(std::optional<MergeState> state, ReadMergeState(repo));
  if (!state) return Status::NotFound("there is no merge to abort (no .vrepo/MERGE_HEAD)");
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(state->orig_head));
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(state->orig_head));
  CheckoutOptions options;
  options.force = true;
  VREPO_RETURN_IF_ERROR(CheckoutFiles(repo, files, info.tree, options));
  return RemoveMergeState(repo);
}

}  // namespace vrepo
