// The merge-in-progress files under .vrepo and the "unresolved" marks in the staging index.
#include "vrepo/worktree/merge_state.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo/worktree/staging_index.h"
#include "worktree_internal.h"

namespace vrepo {

namespace {

constexpr const char* kConflictsHeader = "vrepo-merge-conflicts 1";

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    char c = s[++i];
    out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c);
  }
  return out;
}

std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

// Reads ".vrepo/NAME" holding one commit id; nullopt when absent.
Result<std::optional<std::string>> ReadIdFile(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::FromErrno(path, errno);
  }
  VREPO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() != 40 || text.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::Corruption(path + ": not a commit id");
  }
  return std::optional<std::string>(text);
}

Status RemoveIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("removing " + path, errno);
  }
  return Status::OK();
}

}  // namespace

std::string DescribeConflict(const MergeConflict& c) {
  std::string out = "CONFLICT (" + c.kind + "): ";
  if (c.kind == "label") {
    auto side = [](const char* who, const std::string& label) {
      return label.empty() ? std::string(who) + " deleted the row"
                           : std::string(who) + " '" + label + "'";
    };
    return out + c.key + ": " + side("ours", c.ours) + " vs " + side("theirs", c.theirs) + " in " +
           c.file;
  }
  if (c.kind == "modify/delete") return out + c.file + " modified in ours, deleted in theirs";
  if (c.kind == "delete/modify") return out + c.file + " deleted in ours, modified in theirs";
  if (c.kind == "add/add") return out + c.file + " added on both sides with different contents";
  if (c.kind == "header") return out + c.file + ": the CSV headers differ";
  return out + c.file + " changed on both sides";
}

std::vector<std::string> MergeState::ConflictedFiles() const {
  std::vector<std::string> files;
  for (const auto& c : conflicts) files.push_back(c.file);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

Result<std::optional<MergeState>> ReadMergeState(Repository& repo) {
  const std::string& dir = repo.vrepo_dir();
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> merge_head, ReadIdFile(dir + "/MERGE_HEAD"));
  if (!merge_head) return std::optional<MergeState>();
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> orig_head, ReadIdFile(dir + "/ORIG_HEAD"));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, repo.history().HeadCommit());
  if (!orig_head || head != orig_head) return std::optional<MergeState>();
  MergeState state;
  state.merge_head = *merge_head;
  state.orig_head = *orig_head;
  const std::string path = dir + "/MERGE_CONFLICTS";
  if (::access(path.c_str(), F_OK) == 0) {
    VREPO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    size_t line_no = 0;
    for (std::string_view line : SplitLines(text)) {
      if (++line_no == 1) {
        if (line != kConflictsHeader) {
          return Status::Corruption(path + ":1: not a vrepo-merge-conflicts 1 file");
        }
        continue;
      }
      auto f = SplitTabs(line);
      if (f.size() != 5) {
        return Status::Corruption(path + ":" + std::to_string(line_no) + ": expected 5 fields");
      }
      state.conflicts.push_back(
          {Unescape(f[0]), Unescape(f[1]), Unescape(f[2]), Unescape(f[3]), Unescape(f[4])});
    }
  }
  return std::optional<MergeState>(std::move(state));
}

Status WriteMergeState(const Repository& repo, const MergeState& state) {
  const std::string& dir = repo.vrepo_dir();
  std::string text = std::string(kConflictsHeader) + "\n";
  for (const auto& c : state.conflicts) {
    text += Escape(c.kind) + "\t" + Escape(c.file) + "\t" + Escape(c.key) + "\t" + Escape(c.ours) +
            "\t" + Escape(c.theirs) + "\n";
  }
  VREPO_RETURN_IF_ERROR(WriteFileAtomic(dir + "/MERGE_CONFLICTS", text));
  VREPO_RETURN_IF_ERROR(WriteFileAtomic(dir + "/ORIG_HEAD", state.orig_head + "\n"));
  return WriteFileAtomic(dir + "/MERGE_HEAD", state.merge_head + "\n");
}

Status RemoveMergeState(const Repository& repo) {
  const std::string& dir = repo.vrepo_dir();
  VREPO_RETURN_IF_ERROR(RemoveIfPresent(dir + "/MERGE_HEAD"));
  VREPO_RETURN_IF_ERROR(SyncDir(dir));
  VREPO_RETURN_IF_ERROR(RemoveIfPresent(dir + "/MERGE_CONFLICTS"));
  return RemoveIfPresent(dir + "/ORIG_HEAD");
}

Status StageUnresolved(Repository& repo, const std::vector<FileEntry>& files) {
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "merge"));
  IndexBatch batch;
  for (const auto& f : files) {
    StagingEntry e;
    e.path = f.path;
    e.id = f.id;
    e.size = f.size;
    e.executable = f.executable;  // stat fields stay 0: unknown, so add always re-reads it
    batch.Put(StagingKey(e.path), EncodeStagingValue(e));
  }
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  return repo.store().index().Write(&batch, true);
}

Result<std::vector<std::string>> UnresolvedFiles(Repository& repo, const MergeState& state) {
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  std::vector<std::string> out;
  auto unresolved = [](const StagingEntry& e) {
    return e.mtime_ns == 0 && e.ctime_ns == 0 && e.ino == 0;
  };
  for (const auto& path : state.ConflictedFiles()) {
    // A folder-per-class table's conflicts name the folder: it is unresolved while a file
    // under it is.
    auto [begin, end] = EntriesUnder(index.entries, path == "." ? "" : path);
    if (std::any_of(index.entries.begin() + begin, index.entries.begin() + end, unresolved)) {
      out.push_back(path);
    }
  }
  return out;
}

}  // namespace vrepo
