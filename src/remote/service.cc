#include "vrepo/remote/service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_set>

#include "vrepo/history/history.h"
#include "vrepo/remote/object_batch.h"
#include "vrepo/util/file.h"

namespace vrepo {

namespace {

Status Reject(const std::string& why) { return Status::Conflict("rejected: " + why); }

// Creates a bare repository at `root`, which must not hold one yet. It is built in a
// sibling folder and renamed into place, so that concurrent first writers (parallel streams,
// or clients) never see a half-made repository; the loser of the rename uses the winner's.
Status CreateBare(const std::string& root) {
  static std::atomic<uint64_t> attempt{0};
  VREPO_RETURN_IF_ERROR(MakeDirs(ParentPath(root)));
  std::string tmp =
      root + ".creating-" + std::to_string(::getpid()) + "-" + std::to_string(attempt.fetch_add(1));
  VREPO_RETURN_IF_ERROR(MakeDirs(tmp));
  {
    auto created = Repository::Init(tmp, /*bare=*/true);
    if (!created.ok()) {
      (void)RemoveTree(tmp);
      return created.status();
    }
  }
  if (::rename(tmp.c_str(), root.c_str()) != 0) {
    int err = errno;
    (void)RemoveTree(tmp);
    if (!IsDir(JoinPath(root, ".vrepo"))) return Status::FromErrno("creating " + root, err);
  }
  return SyncDir(ParentPath(root));
}

}  // namespace

struct RemoteService::Impl {
  // AtPath: the repository is opened per call.
  std::string root;
  bool create_if_missing = false;
  // Over: an open repository shared by every connection; `mu` serializes its writes and
  // its history (a History belongs to one thread at a time).
  struct Shared {
    Repository* repo = nullptr;
    std::mutex mu;
  };
  std::shared_ptr<Shared> shared;

  std::string Where() const { return shared ? shared->repo->root() : root; }

  // Runs fn on the repository, opened read-only or for writing.
  template <class Fn>
  auto With(bool write, Fn&& fn) -> decltype(fn(std::declval<Repository&>())) {
    if (shared) {
      if (write && shared->repo->read_only()) {
        return Status::InvalidArgument("repository " + Where() + " is open read-only");
      }
      std::lock_guard lock(shared->mu);
      return fn(*shared->repo);
    }
    if (!IsDir(JoinPath(root, ".vrepo"))) {
      if (!write || !create_if_missing) return Status::NotFound("no repository at " + root);
      VREPO_RETURN_IF_ERROR(CreateBare(root));
    }
    OpenOptions options;
    options.read_only = !write;
    options.wait_for_lock = true;
    auto repo = Repository::Discover(root, options);
    if (!repo.ok()) return repo.status();
    return fn(**repo);
  }

  Status CheckUpdate(Repository& repo, const RefUpdate& u, const std::vector<std::string>& tips);
};

Status RemoteService::Impl::CheckUpdate(Repository& repo, const RefUpdate& u,
                                        const std::vector<std::string>& tips) {
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> current, history.ReadRef(u.name));
  if (current.value_or("") != u.old_target) {
    return Reject(u.name + " changed on the remote (fetch first)");
  }
  if (!repo.bare() && u.name.rfind(kHeadsPrefix, 0) == 0) {
    auto branch = history.CurrentBranch();
    if (branch.ok() && *branch && u.name == std::string(kHeadsPrefix) + **branch) {
      return Reject("refusing to update the checked-out branch " + u.name +
                    " of a repository with a working tree (" + repo.root() + ")");
    }
  }
  if (u.new_target.empty()) return Status::OK();
  if (!history.HasCommit(u.new_target)) {
    return Reject(u.name + ": commit " + u.new_target + " is missing on the remote");
  }
  if (!u.old_target.empty() && !u.force) {
    if (u.name.rfind(kTagsPrefix, 0) == 0) return Reject(u.name + " already exists");
    VREPO_ASSIGN_OR_RETURN(std::optional<std::string> base,
                           history.MergeBase(u.old_target, u.new_target));
    if (!base || *base != u.old_target) {
      return Reject(u.name + " is not a fast-forward (fetch first, or push --force)");
    }
  }
  // Nothing a ref names may be missing: the history beyond the complete tips must read
  // back, and every content object its trees name must be stored.
  auto delta = history.NewHistory({u.new_target}, tips);
  if (!delta.ok()) return Reject(u.name + ": " + delta.status().message());
  for (const FileEntry& f : delta->files) {
    if (!repo.store().Contains(f.id)) {
      return Reject(u.name + ": content " + f.id.Hex() + " of '" + f.path +
                    "' is missing on the remote");
    }
  }
  return Status::OK();
}

RemoteService::RemoteService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteService::~RemoteService() = default;

std::unique_ptr<RemoteService> RemoteService::AtPath(const std::string& root,
                                                     bool create_if_missing) {
  auto impl = std::make_unique<Impl>();
  impl->root = root;
  impl->create_if_missing = create_if_missing;
  return std::unique_ptr<RemoteService>(new RemoteService(std::move(impl)));
}

std::unique_ptr<RemoteService> RemoteService::Over(Repository& repo) {
  auto impl = std::make_unique<Impl>();
  impl->shared = std::make_shared<Impl::Shared>();
  impl->shared->repo = &repo;
  return std::unique_ptr<RemoteService>(new RemoteService(std::move(impl)));
}

std::string RemoteService::Describe() const { return impl_->Where(); }

Result<RefListing> RemoteService::ListRefs() {
  return impl_->With(false, [](Repository& repo) -> Result<RefListing> {
    History& history = repo.history();
    RefListing listing;
    for (const char* prefix : {"refs/heads/", "refs/tags/", "refs/runs/", "refs/models/"}) {
      VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, history.RefsWithPrefix(prefix));
      for (const RefInfo& r : refs) listing.refs.push_back({prefix + r.name, r.target});
    }
    std::sort(listing.refs.begin(), listing.refs.end(),
              [](const RemoteRef& a, const RemoteRef& b) { return a.name < b.name; });
    VREPO_ASSIGN_OR_RETURN(std::optional<std::string> branch, history.CurrentBranch());
    if (branch) listing.head_branch = std::string(kHeadsPrefix) + *branch;
    listing.head_checked_out = branch && !repo.bare();
    return listing;
  });
}

Result<std::vector<ContentId>> RemoteService::MissingObjects(const std::vector<ContentId>& ids) {
  auto missing = [&](Repository& repo) -> Result<std::vector<ContentId>> {
    std::vector<ContentId> out;
    for (const ContentId& id : ids) {
      if (!repo.store().Contains(id)) out.push_back(id);
    }
    return out;
  };
  auto result = impl_->With(false, missing);
  // A repository a push is about to create lacks everything.
  if (!result.ok() && result.status().code() == Status::Code::kNotFound && !impl_->shared &&
      impl_->create_if_missing && !IsDir(JoinPath(impl_->root, ".vrepo"))) {
    return ids;
  }
  return result;
}

Result<std::string> RemoteService::ReadObjects(const std::vector<ContentId>& ids) {
  return ReadObjectsUpTo(ids, UINT64_MAX);
}

Result<std::string> RemoteService::ReadObjectsUpTo(const std::vector<ContentId>& ids,
                                                   uint64_t max_bytes) {
  return impl_->With(false, [&](Repository& repo) -> Result<std::string> {
    // A lazy clone pushing to another remote first gets what it lacks from its own.
    VREPO_RETURN_IF_ERROR(repo.store().Prefetch(ids).status());
    ObjectBatchBuilder batch;
    for (const ContentId& id : ids) {
      auto record = repo.store().ReadRecord(id);
      if (!record.ok()) return record.status().WithContext("reading from " + repo.root());
      // id, codec, raw size, stored size, then the payload or 40 bytes per chunk
      uint64_t size = 49 + record->stored.size() + 40 * record->chunks.size();
      if (batch.count() > 0 && batch.size() + size > max_bytes) break;
      batch.Add(*record);
    }
    return batch.Finish();
  });
}

Result<uint64_t> RemoteService::WriteObjects(std::string_view batch) {
  VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, ParseObjectBatch(batch));
  // Verified before the writer lock is taken, so parallel streams hash in parallel; chunks
  // not in this batch are read from what the repository already stores.
  bool needs_store = false;
  for (const BatchRecord& r : records) {
    if (r.codec == ObjectLocation::Codec::kChunked) needs_store = true;
  }
  if (!needs_store) {
    for (const BatchRecord& r : records) VREPO_RETURN_IF_ERROR(VerifyBatchRecord(r, records, {}));
  } else {
    auto verify = [&](Repository& repo) -> Status {
      ChunkSource source = [&](const ContentId& id) { return repo.store().Get(id); };
      for (const BatchRecord& r : records) {
        VREPO_RETURN_IF_ERROR(VerifyBatchRecord(r, records, source));
      }
      return Status::OK();
    };
    Status st = impl_->With(false, verify);
    if (st.code() == Status::Code::kNotFound && !impl_->shared) {
      // No repository yet: only chunks inside this batch can complete a chunk list.
      st = Status::OK();
      for (const BatchRecord& r : records) VREPO_RETURN_IF_ERROR(VerifyBatchRecord(r, records, {}));
    }
    VREPO_RETURN_IF_ERROR(st);
  }
  return impl_->With(true, [&](Repository& repo) -> Result<uint64_t> {
    VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, repo.store().NewWriter());
    uint64_t added = 0;
    // Chunks first, so that a chunk list in the same batch finds them.
    for (int pass = 0; pass < 2; ++pass) {
      for (const BatchRecord& r : records) {
        bool chunked = r.codec == ObjectLocation::Codec::kChunked;
        if (chunked != (pass == 1) || writer->Has(r.id)) continue;
        VREPO_RETURN_IF_ERROR(writer->PutVerified(r.id, r.codec, r.raw_size, r.stored, r.chunks));
        ++added;
      }
    }
    VREPO_RETURN_IF_ERROR(writer->Commit(nullptr));
    return added;
  });
}

Result<std::string> RemoteService::ReadHistory(const std::vector<std::string>& wants,
                                               const std::vector<std::string>& haves) {
  return impl_->With(false,
                     [&](Repository& repo) { return repo.history().ExportPack(wants, haves); });
}

Status RemoteService::WriteHistory(std::string_view git_pack) {
  return impl_->With(true, [&](Repository& repo) -> Status {
    return repo.history().ImportPack(git_pack).status();
  });
}

Status RemoteService::UpdateRefs(const std::vector<RefUpdate>& updates) {
  return impl_->With(true, [&](Repository& repo) -> Status {
    // What refs name now is complete, so a new target is checked only beyond these.
    VREPO_ASSIGN_OR_RETURN(std::vector<std::string> tips, repo.history().RefTips());
    // All or nothing: every update is checked before any ref moves.
    for (const RefUpdate& u : updates) VREPO_RETURN_IF_ERROR(impl_->CheckUpdate(repo, u, tips));
    for (const RefUpdate& u : updates) {
      Status st = repo.history().UpdateRef(u.name, u.new_target, u.old_target, "vrepo: push");
      if (st.code() == Status::Code::kConflict) {
        return Reject(u.name + " changed on the remote (fetch first)");
      }
      VREPO_RETURN_IF_ERROR(st);
    }
    return Status::OK();
  });
}

Result<std::unique_ptr<Transport>> RemoteService::Connect() const {
  auto impl = std::make_unique<Impl>();
  impl->root = impl_->root;
  impl->create_if_missing = impl_->create_if_missing;
  impl->shared = impl_->shared;
  return std::unique_ptr<Transport>(new RemoteService(std::move(impl)));
}

}  // namespace vrepo
