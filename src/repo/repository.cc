#include "vrepo/repo/repository.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "vrepo/repo/config_file.h"
#include "vrepo/util/file.h"

namespace vrepo {

namespace {

constexpr int kFormatVersion = 1;

Status WriteConfig(const std::string& path, bool bare) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(path));
  VREPO_RETURN_IF_ERROR(cfg.SetInt("core.formatVersion", kFormatVersion));
  if (bare) VREPO_RETURN_IF_ERROR(cfg.SetBool("core.bare", true));
  return Status::OK();
}

// Refuses repositories written by a newer vrepo whose format this one cannot read.
Status CheckConfig(const std::string& path, bool* bare) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(path));
  Result<std::optional<int32_t>> version = cfg.GetInt("core.formatVersion");
  if (!version.ok()) return Status::Corruption(version.status().message());
  if (!*version) return Status::Corruption(path + ": core.formatVersion is missing");
  if (**version > kFormatVersion) {
    return Status::InvalidArgument(path + ": repository format " + std::to_string(**version) +
                                   " is newer than this vrepo supports (" +
                                   std::to_string(kFormatVersion) + ") [upgrade vrepo]");
  }
  // A value that is not a boolean reads as a repository with a work tree, as it always has.
  Result<std::optional<bool>> bare_value = cfg.GetBool("core.bare");
  *bare = bare_value.ok() && bare_value->value_or(false);
  return Status::OK();
}

Result<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return Status::FromErrno(path, errno);
  return std::string(buf);
}

// Resolves "." and ".." and repeated slashes in an absolute path without touching the disk.
std::string NormalizeAbsolute(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(part));
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// libgit2 guards each ref update with a NAME.lock file that a killed process leaves behind,
// blocking every later update (git asks the user to delete it by hand). Only the holder of
// vrepo's writer lock updates refs, so any such file found by a new holder is stale.
void RemoveStaleGitLocks(const std::string& meta_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto remove_if_lock = [](const fs::path& p) {
    std::error_code ignored;  // one file that will not go must not stop the scan
    if (p.extension() == ".lock") fs::remove(p, ignored);
  };
  auto remove_locks_in = [&](const fs::path& dir, bool recursive) {
    if (recursive) {
      for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        remove_if_lock(it->path());
      }
    } else {
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        remove_if_lock(it->path());
      }
    }
    ec.clear();
  };
  remove_locks_in(meta_dir, false);  // HEAD.lock, packed-refs.lock, config.lock
  remove_locks_in(fs::path(meta_dir) / "refs", true);
}

}  // namespace

Repository::~Repository() = default;

Result<std::unique_ptr<Repository>> Repository::Init(const std::string& root, bool bare) {
  VREPO_ASSIGN_OR_RETURN(std::string abs, RealPath(root));
  if (!IsDir(abs)) return Status::InvalidArgument("not a folder: " + root);
  std::string vrepo_dir = JoinPath(abs, ".vrepo");
  if (::mkdir(vrepo_dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) {
      return Status::InvalidArgument("already a vrepo repository: " + abs);
    }
    return Status::FromErrno("creating " + vrepo_dir, errno);
  }
  Status st = History::Init(JoinPath(vrepo_dir, "meta"));
  if (st.ok()) st = ObjectStore::Create(vrepo_dir);
  if (st.ok()) st = WriteConfig(JoinPath(vrepo_dir, "config"), bare);
  if (!st.ok()) return st.WithContext("initializing " + abs);
  // The lock file exists from the start so that readers never need to create it.
  { FileHandle fd(::open(JoinPath(vrepo_dir, "lock").c_str(), O_WRONLY | O_CREAT, 0644)); }
  VREPO_RETURN_IF_ERROR(SyncDir(vrepo_dir));
  VREPO_RETURN_IF_ERROR(SyncDir(abs));
  return Discover(abs, OpenOptions{});
}

Result<std::string> Repository::FindRoot(const std::string& start) {
  auto abs = RealPath(start);
  if (!abs.ok()) {
    if (abs.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("not a vrepo repository (or any parent up to /): " + start);
    }
    return abs.status();
  }
  std::string dir = *abs;
  if (!IsDir(dir)) dir = ParentPath(dir);
  while (true) {
    if (IsDir(JoinPath(dir, ".vrepo"))) break;
    if (dir == "/" || dir.empty()) {
      return Status::NotFound("not a vrepo repository (or any parent up to /): " + *abs);
    }
    dir = ParentPath(dir);
  }
  return dir == "/" ? "" : dir;
}

Result<std::unique_ptr<Repository>> Repository::Discover(const std::string& start,
                                                         const OpenOptions& options) {
  VREPO_ASSIGN_OR_RETURN(std::string root, FindRoot(start));
  std::unique_ptr<Repository> repo(new Repository());
  repo->root_ = std::move(root);
  repo->vrepo_dir_ = repo->root_ + "/.vrepo";
  repo->read_only_ = options.read_only;
  VREPO_RETURN_IF_ERROR(CheckConfig(repo->vrepo_dir_ + "/config", &repo->bare_));
  // The writer lock comes before RocksDB is opened read-write, so a second writer fails
  // with a message naming the holder instead of RocksDB's own lock error.
  if (!options.read_only) {
    VREPO_ASSIGN_OR_RETURN(WriteLock lock,
                           WriteLock::Acquire(repo->vrepo_dir_ + "/lock", options.wait_for_lock));
    repo->lock_.emplace(std::move(lock));
    // Whatever a killed writer left in tmp/ is stale: only the lock holder writes there.
    VREPO_RETURN_IF_ERROR(RemoveTree(repo->tmp_dir()));
    VREPO_RETURN_IF_ERROR(MakeDirs(repo->tmp_dir()));
    RemoveStaleGitLocks(repo->vrepo_dir_ + "/meta");
  }
  if (options.rebuild_index) {
    if (options.read_only) return Status::InvalidArgument("rebuilding the index needs a writer");
    VREPO_ASSIGN_OR_RETURN(*options.rebuild_index, ObjectStore::RebuildIndex(repo->vrepo_dir_));
  }
  VREPO_ASSIGN_OR_RETURN(repo->store_,
                         ObjectStore::Open(repo->vrepo_dir_, options.read_only, options.store));
  VREPO_ASSIGN_OR_RETURN(repo->history_, History::Open(repo->vrepo_dir_ + "/meta"));
  return repo;
}

Status RequireWritable(const Repository& repo, const char* what) {
  if (repo.read_only()) {
    return Status::InvalidArgument(std::string(what) + ": repository " + repo.root() +
                                   " was opened read-only");
  }
  return Status::OK();
}

Result<std::optional<std::string>> LazyRemote(const Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile config, ConfigFile::Open(repo.config_path()));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> remote, config.GetString(kLazyRemoteKey));
  if (remote && remote->empty()) return std::optional<std::string>();
  return remote;
}

Status RequireWorkTree(const Repository& repo) {
  if (repo.bare()) return Status::InvalidArgument("this operation must be run in a work tree");
  return Status::OK();
}

Result<std::string> Repository::RelativePath(const std::string& cwd,
                                             const std::string& user_path) const {
  std::string abs;
  if (!user_path.empty() && user_path[0] == '/') {
    abs = user_path;
  } else {
    auto real_cwd = RealPath(cwd);
    abs = JoinPath(real_cwd.ok() ? *real_cwd : cwd, user_path);
  }
  abs = NormalizeAbsolute(abs);
  std::string root = root_.empty() ? "/" : root_;
  std::string rel;
  if (abs == root) {
    rel = "";
  } else if (root == "/") {
    rel = abs.substr(1);
  } else if (abs.size() > root.size() && abs.compare(0, root.size(), root) == 0 &&
             abs[root.size()] == '/') {
    rel = abs.substr(root.size() + 1);
  } else {
    return Status::InvalidArgument("'" + user_path + "' is outside the working tree at " + root);
  }
  if (rel == ".vrepo" || rel.rfind(".vrepo/", 0) == 0) {
    return Status::InvalidArgument("'" + user_path + "' is inside .vrepo");
  }
  return rel;
}

}  // namespace vrepo
