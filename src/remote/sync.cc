#include "vrepo/remote/sync.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "vrepo/history/history.h"
#include "vrepo/remote/lazy.h"
#include "vrepo/remote/object_batch.h"
#include "vrepo/remote/remote_config.h"
#include "vrepo/remote/service.h"
#include "vrepo/remote/tracking.h"
#include "vrepo/util/file.h"
#include "vrepo/util/thread_pool.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo {

namespace {

constexpr uint64_t kMaxBatchBytes = 8 << 20;
constexpr size_t kMaxBatchObjects = 4096;
// Ids per MissingObjects request (32 bytes each: 2 MiB).
constexpr size_t kMissingQueryIds = 65536;
constexpr std::string_view kRuns = "refs/runs/";
constexpr std::string_view kModels = "refs/models/";

// A content object to copy, with its size (the raw size bounds its record's size).
struct Wanted {
  ContentId id;
  uint64_t size = 0;
};

// Copies content objects that `dest` lacks from `source`, in batches over parallel
// streams. Chunk lists are held back until their chunks are stored, so that every batch the
// destination accepts is complete on its own and an interrupted copy resumes with what
// MissingObjects still reports.
class ObjectCopier {
 public:
  ObjectCopier(Transport& source, Transport& dest, const SyncOptions& options, const char* label,
               SyncReport* report)
      : source_(source), dest_(dest), options_(options), label_(label), report_(report) {}

  Status Copy(const std::vector<Wanted>& wanted) {
    VREPO_ASSIGN_OR_RETURN(std::vector<Wanted> missing, Missing(wanted));
    if (missing.empty()) return Status::OK();
    ReportedStep progress(options_.reporter, label_, missing.size());
    progress_ = &progress;
    VREPO_RETURN_IF_ERROR(CopyRound(missing));
    if (!deferred_.empty()) {
      std::vector<Wanted> chunks;
      std::unordered_set<ContentId, ContentIdHash> seen;
      for (const StoredRecord& list : deferred_) {
        for (const ChunkRef& c : list.chunks) {
          if (seen.insert(c.id).second) chunks.push_back({c.id, c.size});
        }
      }
      VREPO_ASSIGN_OR_RETURN(std::vector<Wanted> missing_chunks, Missing(chunks));
      std::vector<StoredRecord> lists = std::move(deferred_);
      deferred_.clear();
      VREPO_RETURN_IF_ERROR(CopyRound(missing_chunks));
      if (!deferred_.empty()) {
        return Status::Corruption("a chunk of object " + lists[0].id.Hex() + " from " +
                                  source_.Describe() + " is itself chunked");
      }
      ObjectBatchBuilder builder;
      for (size_t i = 0; i < lists.size(); ++i) {
        builder.Add(lists[i]);
        if (builder.count() == kMaxBatchObjects || i + 1 == lists.size()) {
          size_t n = builder.count();
          std::string batch = builder.Finish();
          VREPO_RETURN_IF_ERROR(dest_.WriteObjects(batch).status());
          Count(n, batch.size());
        }
      }
    }
    return Status::OK();
  }

 private:
  Result<std::vector<Wanted>> Missing(const std::vector<Wanted>& wanted) {
    std::vector<Wanted> out;
    for (size_t start = 0; start < wanted.size(); start += kMissingQueryIds) {
      size_t end = std::min(wanted.size(), start + kMissingQueryIds);
      std::vector<ContentId> ids;
      for (size_t i = start; i < end; ++i) ids.push_back(wanted[i].id);
      VREPO_ASSIGN_OR_RETURN(std::vector<ContentId> missing, dest_.MissingObjects(ids));
      std::unordered_set<ContentId, ContentIdHash> set(missing.begin(), missing.end());
      for (size_t i = start; i < end; ++i) {
        if (set.count(wanted[i].id)) out.push_back(wanted[i]);
      }
    }
    return out;
  }

  void Count(size_t objects, size_t bytes) {
    std::lock_guard lock(mu_);
    report_->objects += objects;
    report_->object_bytes += bytes;
  }

  Status CopyRound(const std::vector<Wanted>& missing) {
    // Batches as big as either end likes (an S3 bucket wants big packs), but small enough
    // that every stream gets one.
    const Transport::BatchLimits a = source_.PreferredBatch();
    const Transport::BatchLimits b = dest_.PreferredBatch();
    uint64_t total = 0;
    for (const Wanted& w : missing) total += w.size;
    const uint64_t streams = std::max(1, options_.jobs);
    const uint64_t max_bytes = std::clamp<uint64_t>((total + streams - 1) / streams, kMaxBatchBytes,
                                                    std::max(a.bytes, b.bytes));
    const size_t max_objects = std::clamp<size_t>((missing.size() + streams - 1) / streams,
                                                  kMaxBatchObjects, std::max(a.objects, b.objects));
    std::vector<std::vector<Wanted>> batches;
    uint64_t bytes = 0;
    for (const Wanted& w : missing) {
      if (batches.empty() || batches.back().size() >= max_objects ||
          (bytes + w.size > max_bytes && !batches.back().empty())) {
        batches.emplace_back();
        bytes = 0;
      }
      batches.back().push_back(w);
      bytes += w.size;
    }
    std::atomic<size_t> next{0};
    FirstError first_error;
    auto worker = [&](Transport* src, Transport* dst) {
      while (!first_error.failed()) {
        size_t i = next.fetch_add(1);
        if (i >= batches.size()) return;
        // An exception escaping this thread would abort the process before a failed clone
        // could clean up.
        first_error.Record(
            CatchExceptions("copying objects", [&] { return CopyBatch(*src, *dst, batches[i]); }));
      }
    };
    size_t jobs = std::max<size_t>(1, std::min<size_t>(options_.jobs, batches.size()));
    std::vector<std::unique_ptr<Transport>> connections;
    for (size_t j = 1; j < jobs; ++j) {
      auto src = source_.Connect();
      auto dst = dest_.Connect();
      if (!src.ok() || !dst.ok()) break;  // fewer streams, not a failure
      connections.push_back(std::move(src).value());
      connections.push_back(std::move(dst).value());
    }
    std::vector<std::thread> threads;
    for (size_t j = 0; j + 1 < connections.size(); j += 2) {
      threads.emplace_back(worker, connections[j].get(), connections[j + 1].get());
    }
    worker(&source_, &dest_);
    for (std::thread& t : threads) t.join();
    return first_error.status();
  }

  // A source may answer a read with its first objects only (a server caps its answers,
  // docs/remote.md "Hostile peers"): the rest are asked for again until every one came.
  Status CopyBatch(Transport& src, Transport& dst, const std::vector<Wanted>& wanted) {
    for (size_t done = 0; done < wanted.size();) {
      VREPO_ASSIGN_OR_RETURN(size_t got,
                             CopyPrefix(src, dst, {wanted.begin() + done, wanted.end()}));
      done += got;
    }
    return Status::OK();
  }

  // Copies what one answer to a read of `wanted` holds; returns how many objects that was.
  Result<size_t> CopyPrefix(Transport& src, Transport& dst, const std::vector<Wanted>& wanted) {
    std::vector<ContentId> ids;
    ids.reserve(wanted.size());
    for (const Wanted& w : wanted) ids.push_back(w.id);
    std::string batch;
    VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, ReadObjectPrefix(src, ids, &batch));
    bool has_lists = false;
    size_t sent = records.size();
    for (size_t i = 0; i < records.size(); ++i) {
      const BatchRecord& r = records[i];
      // The size the pointer (or chunk list) gave: a record of another size is refused before
      // anything decompresses it, so a small record cannot inflate into a huge file.
      if (r.raw_size != wanted[i].size) {
        return Status::Corruption("object " + r.id.Hex() + " from " + src.Describe() + " is " +
                                  std::to_string(r.raw_size) + " bytes, but its pointer says " +
                                  std::to_string(wanted[i].size));
      }
      if (r.codec == ObjectLocation::Codec::kChunked) has_lists = true;
    }
    if (has_lists) {
      ObjectBatchBuilder rest;
      std::lock_guard lock(mu_);
      for (const BatchRecord& r : records) {
        StoredRecord rec;
        rec.id = r.id;
        rec.codec = r.codec;
        rec.raw_size = r.raw_size;
        if (r.codec == ObjectLocation::Codec::kChunked) {
          rec.chunks = r.chunks;
          deferred_.push_back(std::move(rec));
        } else {
          rec.stored.assign(r.stored);
          rest.Add(rec);
        }
      }
      sent = rest.count();
      batch = rest.Finish();
    }
    if (sent > 0) VREPO_RETURN_IF_ERROR(dst.WriteObjects(batch).status());
    Count(sent, batch.size());
    if (progress_) {
      progress_->AdvanceBytes(batch.size());
      progress_->Advance(records.size());
    }
    return records.size();
  }

  Transport& source_;
  Transport& dest_;
  const SyncOptions& options_;
  const char* label_;
  SyncReport* report_;
  ReportedStep* progress_ = nullptr;
  std::mutex mu_;
  std::vector<StoredRecord> deferred_;
};

std::vector<Wanted> WantedFiles(const HistoryDelta& delta) {
  std::vector<Wanted> out;
  out.reserve(delta.files.size());
  for (const FileEntry& f : delta.files) out.push_back({f.id, f.size});
  return out;
}

std::string ShortName(const std::string& full) {
  for (std::string_view prefix : {kHeadsPrefix, kTagsPrefix, kRuns, kModels}) {
    if (full.starts_with(prefix)) return full.substr(prefix.size());
  }
  return full;
}

std::vector<std::string> Distinct(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

bool SyncReport::ok() const {
  for (const RefResult& r : refs) {
    if (r.rejected()) return false;
  }
  return true;
}

std::string RefResult::StatusText() const {
  switch (outcome) {
    case RefOutcome::kUpToDate:
      return "up to date";
    case RefOutcome::kNew:
      return "new";
    case RefOutcome::kUpdated:
      return "updated";
    case RefOutcome::kForced:
      return "forced";
    case RefOutcome::kRejected:
    case RefOutcome::kCheckedOut:
      return "rejected: " + reason;
  }
  return "";
}

namespace {

Result<SyncReport> PushListed(Repository& repo, Transport& remote, const std::string& remote_name,
                              const PushOptions& options, const RefListing& listing);

}  // namespace

Result<SyncReport> Push(Repository& repo, Transport& remote, const std::string& remote_name,
                        const PushOptions& options) {
  RefListing listing;
  auto listed = remote.ListRefs();
  const bool remote_exists = listed.ok();
  if (remote_exists) {
    listing = std::move(listed).value();
  } else if (listed.status().code() != Status::Code::kNotFound) {
    return listed.status();
  }
  Result<SyncReport> pushed = PushListed(repo, remote, remote_name, options, listing);
  if (!remote_exists && pushed.status().code() == Status::Code::kNotFound) {
    // The first push creates the repository, which a server allows only to writers.
    return Status::NotFound(pushed.status().message() +
                            "; a first push creates it, which needs write access there");
  }
  return pushed;
}

namespace {

// The local refs a push sends, as (full name, commit): the branches asked for (the current
// one by default), and with options.tags and options.runs every tag and run besides them.
Result<std::vector<std::pair<std::string, std::string>>> RefsToPush(History& history,
                                                                    const PushOptions& options) {
  std::vector<std::pair<std::string, std::string>> pushed;
  if (options.all) {
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> branches, history.Branches());
    for (const RefInfo& b : branches)
      pushed.emplace_back(std::string(kHeadsPrefix) + b.name, b.target);
  } else {
    std::vector<std::string> names = options.branches;
    if (names.empty()) {
      VREPO_ASSIGN_OR_RETURN(std::optional<std::string> current, history.CurrentBranch());
      if (!current) {
        return Status::InvalidArgument("HEAD is detached; name the branch to push");
      }
      names.push_back(*current);
    }
    for (const std::string& name : names) {
      std::string full = name.starts_with(kHeadsPrefix) ? name : std::string(kHeadsPrefix) + name;
      VREPO_ASSIGN_OR_RETURN(std::optional<std::string> target, history.ReadRef(full));
      if (!target) {
        return Status::NotFound("branch '" + ShortName(full) + "' not found (no commits yet?)");
      }
      pushed.emplace_back(full, *target);
    }
  }
  for (const auto& [prefix, on] :
       {std::pair{kTagsPrefix, options.tags}, std::pair{kRuns, options.runs},
        std::pair{kModels, options.models}}) {
    if (!on) continue;
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, history.RefsWithPrefix(std::string(prefix)));
    for (const RefInfo& r : refs) pushed.emplace_back(std::string(prefix) + r.name, r.target);
  }

  return pushed;
}

// What pushing `target` to the remote's ref `name`, now at `old_target` ("" when absent),
// does: branches move only forward (unless `force`), tags and runs are never replaced, and
// the branch checked out in the remote's working tree (`checked_out`) not at all.
Result<RefResult> JudgePush(History& history, const std::string& name, const std::string& target,
                            const std::string& old_target, bool force, bool checked_out) {
  RefResult r{name, old_target, target, RefOutcome::kUpToDate, ""};
  if (r.old_target == target) {
    r.outcome = RefOutcome::kUpToDate;
  } else if (checked_out) {
    r.outcome = RefOutcome::kCheckedOut;
    r.reason = "branch is checked out in the remote's working tree";
  } else if (r.old_target.empty()) {
    r.outcome = RefOutcome::kNew;
  } else if (name.starts_with(kHeadsPrefix)) {
    std::optional<std::string> base;
    if (history.HasCommit(r.old_target)) {
      VREPO_ASSIGN_OR_RETURN(base, history.MergeBase(r.old_target, target));
    }
    if (base && *base == r.old_target) {
      r.outcome = RefOutcome::kUpdated;
    } else if (force) {
      r.outcome = RefOutcome::kForced;
    } else if (!history.HasCommit(r.old_target)) {
      r.outcome = RefOutcome::kRejected;
      r.reason = "fetch first";
    } else {
      r.outcome = RefOutcome::kRejected;
      r.reason = "non-fast-forward";
    }
  } else {
    r.outcome = force ? RefOutcome::kForced : RefOutcome::kRejected;
    if (!force) r.reason = "already exists";
  }
  return r;
}

Result<SyncReport> PushListed(Repository& repo, Transport& remote, const std::string& remote_name,
                              const PushOptions& options, const RefListing& listing) {
  History& history = repo.history();
  SyncReport report;
  report.head_branch = listing.head_branch;
  std::map<std::string, std::string> theirs;
  for (const RemoteRef& r : listing.refs) theirs[r.name] = r.target;

  VREPO_ASSIGN_OR_RETURN(auto pushed, RefsToPush(history, options));
  std::vector<RefUpdate> updates;
  std::vector<size_t> update_results;
  for (const auto& [name, target] : pushed) {
    auto it = theirs.find(name);
    bool checked_out = listing.head_checked_out && listing.head_branch == name;
    VREPO_ASSIGN_OR_RETURN(RefResult r,
                           JudgePush(history, name, target, it == theirs.end() ? "" : it->second,
                                     options.force, checked_out));
    if (r.moved()) {
      updates.push_back({name, r.old_target, target, r.outcome == RefOutcome::kForced});
      update_results.push_back(report.refs.size());
    }
    report.refs.push_back(std::move(r));
  }
  if (updates.empty()) return report;

  std::vector<std::string> wants, haves;
  for (const RefUpdate& u : updates) wants.push_back(u.new_target);
  wants = Distinct(std::move(wants));
  for (const auto& [name, target] : theirs) {
    if (history.HasCommit(target)) haves.push_back(target);
  }
  haves = Distinct(std::move(haves));
  VREPO_ASSIGN_OR_RETURN(HistoryDelta delta, history.NewHistory(wants, haves));
  report.commits = delta.commits.size();

  auto local = RemoteService::Over(repo);
  ObjectCopier copier(*local, remote, options, "sending objects", &report);
  VREPO_RETURN_IF_ERROR(copier.Copy(WantedFiles(delta)));
  if (!delta.commits.empty()) {
    VREPO_ASSIGN_OR_RETURN(std::string pack, local->ReadHistory(wants, haves));
    VREPO_RETURN_IF_ERROR(remote.WriteHistory(pack));
  }
  Status st = remote.UpdateRefs(updates);
  if (st.code() == Status::Code::kConflict) {
    std::string why = st.message();
    if (why.starts_with("rejected: ")) why = why.substr(10);
    for (size_t i : update_results) {
      report.refs[i].outcome = RefOutcome::kRejected;
      report.refs[i].reason = why;
    }
    return report;
  }
  VREPO_RETURN_IF_ERROR(st);
  // The tracking refs follow what the remote now has, as git's do after a push.
  if (!remote_name.empty()) {
    for (const RefUpdate& u : updates) {
      if (!u.name.starts_with(kHeadsPrefix)) continue;
      std::string tracking = "refs/remotes/" + remote_name + "/" + ShortName(u.name);
      VREPO_ASSIGN_OR_RETURN(std::optional<std::string> old, history.ReadRef(tracking));
      VREPO_RETURN_IF_ERROR(
          history.UpdateRef(tracking, u.new_target, old.value_or(""), "vrepo: push"));
    }
  }
  return report;
}

}  // namespace

Result<SyncReport> Fetch(Repository& repo, Transport& remote, const std::string& remote_name,
                         const FetchOptions& options) {
  History& history = repo.history();
  SyncReport report;
  VREPO_ASSIGN_OR_RETURN(RefListing listing, remote.ListRefs());
  report.head_branch = listing.head_branch;
  std::vector<RefUpdate> updates;  // local refs to move, once everything is here
  std::vector<size_t> update_results;
  for (const RemoteRef& ref : listing.refs) {
    std::string local_name;
    bool tracking = false;  // a remote-tracking ref, which always follows the remote
    if (ref.name.starts_with(kHeadsPrefix)) {
      local_name = "refs/remotes/" + remote_name + "/" + ShortName(ref.name);
      tracking = true;
    } else if (ref.name.starts_with(kTagsPrefix) || (options.runs && ref.name.starts_with(kRuns)) ||
               (options.models && ref.name.starts_with(kModels))) {
      local_name = ref.name;
    } else {
      continue;
    }
    VREPO_ASSIGN_OR_RETURN(std::optional<std::string> old, history.ReadRef(local_name));
    RefResult r{local_name, old.value_or(""), ref.target, RefOutcome::kUpToDate, ""};
    if (r.old_target == r.new_target) {
      r.outcome = RefOutcome::kUpToDate;
    } else if (r.old_target.empty()) {
      r.outcome = RefOutcome::kNew;
    } else if (!tracking) {
      r.outcome = RefOutcome::kRejected;
      r.reason = std::string("would clobber existing ") + (ref.name.starts_with(kTagsPrefix) ? "tag"
                                                           : ref.name.starts_with(kRuns)     ? "run"
                                                                                         : "model");
    } else {
      // Remote-tracking refs follow the remote even where it was rewritten, as git's do.
      r.outcome = RefOutcome::kUpdated;
    }
    if (r.moved()) {
      updates.push_back({local_name, r.old_target, r.new_target, true});
      update_results.push_back(report.refs.size());
    }
    report.refs.push_back(std::move(r));
  }
  if (updates.empty()) return report;

  std::vector<std::string> wants;
  for (const RefUpdate& u : updates) wants.push_back(u.new_target);
  wants = Distinct(std::move(wants));
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> haves, history.RefTips());
  auto local = RemoteService::Over(repo);
  bool need_history = false;
  for (const std::string& w : wants) need_history |= !history.HasCommit(w);
  if (need_history) {
    VREPO_ASSIGN_OR_RETURN(std::string pack, remote.ReadHistory(wants, haves));
    VREPO_RETURN_IF_ERROR(local->WriteHistory(pack));
  }
  VREPO_ASSIGN_OR_RETURN(HistoryDelta delta, history.NewHistory(wants, haves));
  report.commits = delta.commits.size();
  ObjectCopier copier(remote, *local, options, "receiving objects", &report);
  if (options.contents)
    std::erase_if(delta.files, [&](const FileEntry& f) { return !options.contents(f); });
  VREPO_RETURN_IF_ERROR(copier.Copy(WantedFiles(delta)));
  for (size_t k = 0; k < updates.size(); ++k) {
    const RefUpdate& u = updates[k];
    Status st = history.UpdateRef(u.name, u.new_target, u.old_target, "vrepo: fetch");
    if (st.code() == Status::Code::kConflict) {
      report.refs[update_results[k]].outcome = RefOutcome::kRejected;
      report.refs[update_results[k]].reason = "changed locally during the fetch";
      continue;
    }
    VREPO_RETURN_IF_ERROR(st);
  }
  return report;
}

Result<PullResult> Pull(Repository& repo, Transport& remote, const std::string& remote_name,
                        const FetchOptions& options, const CheckoutOptions& checkout,
                        const std::function<void(const SyncReport&)>& on_fetched) {
  History& history = repo.history();
  PullResult out;
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> branch, history.CurrentBranch());
  if (!branch) {
    out.outcome = PullOutcome::kDetachedHead;
    return out;
  }
  out.branch = *branch;
  // The branch's upstream on this remote, else the remote's branch of the same name.
  VREPO_ASSIGN_OR_RETURN(std::optional<Upstream> upstream, GetUpstream(repo, *branch));
  bool tracks = upstream && upstream->remote == remote_name;
  out.upstream = remote_name + "/" + (tracks ? upstream->branch : *branch);
  VREPO_ASSIGN_OR_RETURN(out.fetch, Fetch(repo, remote, remote_name, options));
  if (on_fetched) on_fetched(out.fetch);
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> theirs,
                         history.ReadRef("refs/remotes/" + out.upstream));
  if (!theirs) {
    out.outcome = PullOutcome::kNoRemoteBranch;
    return out;
  }
  VREPO_ASSIGN_OR_RETURN(out.old_head, history.HeadCommit());
  if (out.old_head) {
    if (*out.old_head == *theirs) return out;  // kUpToDate
    VREPO_ASSIGN_OR_RETURN(std::optional<std::string> base,
                           history.MergeBase(*out.old_head, *theirs));
    if (base && *base == *theirs) return out;  // theirs is already ours: kUpToDate
    if (!base || *base != *out.old_head) {
      out.outcome = PullOutcome::kDiverged;
      return out;
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(*theirs));
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(*theirs));
  VREPO_RETURN_IF_ERROR(CheckoutFiles(repo, files, info.tree, checkout));
  VREPO_RETURN_IF_ERROR(history.AdvanceHead(*theirs, out.old_head, "vrepo: pull (fast-forward)"));
  out.outcome = PullOutcome::kFastForwarded;
  out.new_head = *theirs;
  return out;
}

Result<SyncReport> Clone(const std::string& url, const std::string& dir,
                         const CloneOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool existed = fs::exists(dir, ec);
  if (existed && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    return Status::InvalidArgument("destination path '" + dir +
                                   "' already exists and is not an empty folder");
  }
  VREPO_RETURN_IF_ERROR(MakeDirs(dir));
  auto clone = [&]() -> Result<SyncReport> {
    VREPO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo, Repository::Init(dir));
    TransportOptions transport = options.transport;
    transport.remote_name = "origin";
    if (transport.cache_dir.empty()) transport.cache_dir = RemoteCacheDir(*repo, "origin");
    VREPO_ASSIGN_OR_RETURN(std::unique_ptr<Transport> remote, OpenTransport(url, transport));
    // A relative path URL is kept as the remote relative to the clone, like git.
    std::string stored_url = url;
    if (url.find("://") == std::string::npos && !url.empty() && url[0] != '/') {
      stored_url = fs::absolute(url, ec).lexically_normal().string();
    }
    RemoteConfig origin;
    origin.name = "origin";
    origin.url = stored_url;
    VREPO_RETURN_IF_ERROR(AddRemote(*repo, origin));
    FetchOptions fetch;
    static_cast<SyncOptions&>(fetch) = options;
    fetch.runs = true;
    fetch.models = true;
    if (options.lazy) {
      VREPO_RETURN_IF_ERROR(MarkLazy(*repo, "origin"));
      fetch.contents = LazyCloneKeeps(options.lazy_threshold);
    }
    VREPO_ASSIGN_OR_RETURN(SyncReport report, Fetch(*repo, *remote, "origin", fetch));
    std::string branch = options.branch;
    if (branch.empty() && report.head_branch) branch = ShortName(*report.head_branch);
    History& history = repo->history();
    std::string tracking = "refs/remotes/origin/" + branch;
    VREPO_ASSIGN_OR_RETURN(std::optional<std::string> target, history.ReadRef(tracking));
    if (!target && options.branch.empty()) {
      // The remote's HEAD names no branch it has: take its first branch, if any.
      VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> remote_branches,
                             history.RefsWithPrefix("refs/remotes/origin/"));
      if (!remote_branches.empty()) {
        branch = remote_branches[0].name;
        target = remote_branches[0].target;
      }
    }
    if (!target) {
      if (!options.branch.empty()) {
        return Status::NotFound("remote branch '" + options.branch + "' not found in " +
                                remote->Describe());
      }
      if (!branch.empty()) VREPO_RETURN_IF_ERROR(history.SetHeadToBranch(branch));
      return report;  // an empty repository
    }
    VREPO_RETURN_IF_ERROR(history.CreateBranch(branch, *target, /*force=*/false));
    VREPO_RETURN_IF_ERROR(SetUpstream(*repo, branch, {"origin", branch}));
    VREPO_RETURN_IF_ERROR(history.SetHeadToBranch(branch));
    VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(*target));
    VREPO_ASSIGN_OR_RETURN(CommitInfo commit, history.GetCommit(*target));
    CheckoutOptions checkout;
    checkout.reporter = options.reporter;
    checkout.force = true;  // a new folder: nothing of the user's to protect
    checkout.leave_absent = options.lazy;
    VREPO_RETURN_IF_ERROR(CheckoutFiles(*repo, files, commit.tree, checkout));
    return report;
  };
  // An exception (std::bad_alloc from a hostile size) must not skip the clean-up below.
  Result<SyncReport> cloned = Status::IOError("clone of " + url + " did not finish");
  try {
    cloned = clone();
  } catch (const std::exception& e) {
    cloned = Status::IOError("clone of " + url + " failed: " + e.what());
  } catch (...) {
    cloned = Status::IOError("clone of " + url + " failed: unknown exception");
  }
  if (!cloned.ok()) {
    // Nothing half-made is left behind, as git does.
    if (existed) {
      for (const auto& entry : fs::directory_iterator(dir, ec)) (void)RemoveTree(entry.path());
    } else {
      (void)RemoveTree(dir);
    }
  }
  return cloned;
}

}  // namespace vrepo
