#include "vrepo/runs/run_commit.h"

#include <cctype>
#include <utility>

namespace vrepo::runs {
namespace {

// Run names become ref names and appear in commands: keep them to a plain, portable set.
Status CheckRunNameSyntax(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.' && name[0] != '-' &&
            name.find("..") == std::string::npos && name.back() != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return Status::InvalidArgument("invalid run name '" + name +
                                   "' (letters, digits, '-', '_' and '.')");
  }
  if (name.ends_with(".lock")) {
    return Status::InvalidArgument("invalid run name '" + name + "' (ends in .lock)");
  }
  return Status::OK();
}

Status NameTaken(const std::string& name) {
  return Status::InvalidArgument("run name '" + name + "' already exists");
}

}  // namespace

Status CheckNewRunName(History& history, const std::string& name) {
  VREPO_RETURN_IF_ERROR(CheckRunNameSyntax(name));
  if (history.ResolveCommit(std::string(kRunsRefPrefix) + name).ok()) return NameTaken(name);
  return Status::OK();
}

RunCommitWriter::RunCommitWriter(Repository* repo, std::string name,
                                 std::unique_ptr<PackWriter> writer)
    : repo_(repo), name_(std::move(name)), writer_(std::move(writer)) {}
RunCommitWriter::RunCommitWriter(RunCommitWriter&&) noexcept = default;
RunCommitWriter::~RunCommitWriter() = default;

Result<RunCommitWriter> RunCommitWriter::Start(Repository& repo, const std::string& name) {
  if (repo.read_only()) return Status::InvalidArgument("run record: repository opened read-only");
  if (!name.empty()) VREPO_RETURN_IF_ERROR(CheckNewRunName(repo.history(), name));
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, repo.store().NewWriter());
  return RunCommitWriter(&repo, name, std::move(writer));
}

Result<FileEntry> RunCommitWriter::AddBytes(const std::string& path, std::string_view bytes) {
  VREPO_ASSIGN_OR_RETURN(ContentId id, writer_->Put(bytes));
  entries_.push_back(FileEntry{path, id, bytes.size(), false});
  return entries_.back();
}

Result<FileEntry> RunCommitWriter::AddFile(const std::string& path, const std::string& disk_path) {
  VREPO_ASSIGN_OR_RETURN(auto stored, writer_->PutFile(disk_path));
  entries_.push_back(FileEntry{path, stored.first, stored.second, false});
  return entries_.back();
}

Result<std::string> RunCommitWriter::Finish(const std::vector<std::string>& parents,
                                            const std::string& message) {
  History& history = repo_->history();
  // Crash-safe order: the objects are durable before the commit names them, and the commit
  // exists before the ref points at it.
  VREPO_RETURN_IF_ERROR(writer_->Commit(nullptr));
  VREPO_ASSIGN_OR_RETURN(std::string tree, history.WriteTree(entries_));
  VREPO_ASSIGN_OR_RETURN(std::string commit, history.CreateCommit(tree, parents, message));
  const std::string name = name_.empty() ? commit.substr(0, 12) : name_;
  Status st = history.CreateRef(std::string(kRunsRefPrefix) + name, commit);
  if (!st.ok()) {
    if (st.message().find("already exists") != std::string::npos) return NameTaken(name);
    return st;
  }
  return commit;
}

}  // namespace vrepo::runs
