#include "vrepo/remote/lazy.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "vrepo/dataset/label_table.h"
#include "vrepo/remote/object_batch.h"
#include "vrepo/remote/remote_config.h"
#include "vrepo/remote/transport.h"
#include "vrepo/repo/config_file.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace {

// Ids per read request: small enough that parallel streams share the work of a few hundred
// samples, large enough that a request's round trip is not paid per object.
constexpr size_t kLazyBatchObjects = 256;

bool LazyNameEndsWith(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Gets absent objects from a lazy clone's remote. Every fetch writes one pack through a
// PackWriter of the repository's store, or, for a read-only repository, of a writer opened
// for that fetch alone (so a long reader never holds the writer lock between fetches).
class LazyRemoteSource final : public ObjectSource {
 public:
  LazyRemoteSource(Repository& repo, std::string remote, int jobs)
      : repo_(repo),
        root_(repo.root()),
        remote_(std::move(remote)),
        jobs_(std::max(1, jobs)),
        store_(repo.read_only() ? nullptr : &repo.store()) {}

  Status Fetch(const std::vector<ContentId>& ids,
               const std::function<void(size_t, std::string_view)>& fn) override {
    if (ids.empty()) return Status::OK();
    Status st = FetchAll(ids, fn);
    if (st.ok()) return st;
    std::string where = "remote '" + remote_ + "'";
    {
      std::lock_guard lock(mu_);
      if (!url_.empty()) where += " (" + url_ + ")";
    }
    std::string what = "object " + ids[0].Hex();
    if (ids.size() > 1) what += " (and " + std::to_string(ids.size() - 1) + " more)";
    return Status::IOError(what + " is not in this lazy clone and " + where +
                           " could not be read: " + st.message());
  }

 private:
  Status FetchAll(const std::vector<ContentId>& ids,
                  const std::function<void(size_t, std::string_view)>& fn) {
    if (store_ != nullptr) return FetchInto(*store_, ids, fn);
    // A read-only reader (a training run) must not hold the writer lock while it reads: each
    // fetch takes it only to store what it got. The reader's own index does not see what an
    // earlier fetch stored; a read-only view opened after that fetch does. Its threads (the
    // prefetcher, the loader's decoders) often want the same samples at once: an id another
    // thread is fetching is waited for, not fetched twice.
    std::vector<size_t> todo;
    VREPO_RETURN_IF_ERROR(ServeFromView(ids, AllIndexes(ids.size()), fn, &todo));
    if (todo.empty()) return Status::OK();
    std::vector<size_t> mine;
    std::vector<size_t> theirs;
    {
      std::lock_guard lock(mu_);
      for (size_t i : todo) {
        (in_flight_.insert(ids[i]).second ? mine : theirs).push_back(i);
      }
    }
    Status st = mine.empty() ? Status::OK() : FetchFresh(ids, mine, fn);
    {
      std::lock_guard lock(mu_);
      for (size_t i : mine) in_flight_.erase(ids[i]);
    }
    landed_.notify_all();
    VREPO_RETURN_IF_ERROR(st);
    if (theirs.empty()) return Status::OK();
    {
      std::unique_lock lock(mu_);
      landed_.wait(lock, [&] {
        return std::none_of(theirs.begin(), theirs.end(),
                            [&](size_t i) { return in_flight_.count(ids[i]) > 0; });
      });
    }
    // What another thread's fetch did not bring (it failed) is fetched here.
    std::vector<size_t> missed;
    VREPO_RETURN_IF_ERROR(ServeFromView(ids, theirs, fn, &missed));
    return missed.empty() ? Status::OK() : FetchFresh(ids, missed, fn);
  }

  static std::vector<size_t> AllIndexes(size_t n) {
    std::vector<size_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = i;
    return all;
  }

  // Hands over those of ids[which] that the latest read-only view holds; the others go to
  // `missing`.
  Status ServeFromView(const std::vector<ContentId>& ids, const std::vector<size_t>& which,
                       const std::function<void(size_t, std::string_view)>& fn,
                       std::vector<size_t>* missing) {
    std::shared_ptr<Repository> view;
    {
      std::lock_guard lock(mu_);
      view = fetched_view_;
    }
    for (size_t i : which) {
      if (view && view->store().Contains(ids[i])) {
        if (fn) {
          VREPO_ASSIGN_OR_RETURN(std::string bytes, view->store().Get(ids[i]));
          fn(i, bytes);
        }
      } else {
        missing->push_back(i);
      }
    }
    return Status::OK();
  }

  // Fetches ids[which] through a writer opened for this fetch alone, then opens a fresh
  // read-only view that sees them.
  Status FetchFresh(const std::vector<ContentId>& ids, const std::vector<size_t>& which,
                    const std::function<void(size_t, std::string_view)>& fn) {
    std::vector<ContentId> rest;
    for (size_t i : which) rest.push_back(ids[i]);
    {
      OpenOptions options;
      options.wait_for_lock = true;
      VREPO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> writer,
                             Repository::Discover(root_, options));
      VREPO_RETURN_IF_ERROR(FetchInto(writer->store(), rest, [&](size_t k, std::string_view bytes) {
        if (fn) fn(which[k], bytes);
      }));
    }
    OpenOptions read_only;
    read_only.read_only = true;
    VREPO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> fresh,
                           Repository::Discover(root_, read_only));
    std::lock_guard lock(mu_);
    fetched_view_ = std::move(fresh);
    return Status::OK();
  }

  // Fetches `ids` (all absent from `store`) into `store`, in batches over parallel streams.
  Status FetchInto(ObjectStore& target, const std::vector<ContentId>& ids,
                   const std::function<void(size_t, std::string_view)>& fn) {
    VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, target.NewWriter());
    const std::vector<size_t> all = AllIndexes(ids.size());
    std::vector<std::vector<size_t>> batches;
    for (size_t k = 0; k < all.size(); k += kLazyBatchObjects) {
      batches.emplace_back(all.begin() + k,
                           all.begin() + std::min(all.size(), k + kLazyBatchObjects));
    }
    std::atomic<size_t> next{0};
    FirstError first_error;
    auto worker = [&](Transport* t) {
      while (!first_error.failed()) {
        size_t b = next.fetch_add(1);
        if (b >= batches.size()) return;
        first_error.Record(CatchExceptions(
            "fetching objects", [&] { return FetchBatch(*t, *writer, ids, batches[b], fn); }));
      }
    };
    size_t streams = std::min<size_t>(jobs_, batches.size());
    std::vector<std::unique_ptr<Transport>> connections;
    for (size_t j = 0; j < streams; ++j) {
      auto t = Connection();
      if (!t.ok()) {
        if (j == 0) return t.status();
        break;  // fewer streams, not a failure
      }
      connections.push_back(std::move(t).value());
    }
    std::vector<std::thread> threads;
    for (size_t j = 1; j < connections.size(); ++j) {
      threads.emplace_back(worker, connections[j].get());
    }
    worker(connections[0].get());
    for (std::thread& t : threads) t.join();
    {
      std::lock_guard lock(mu_);
      for (auto& c : connections) idle_.push_back(std::move(c));
    }
    // What arrived and verified is kept even when another batch failed.
    VREPO_RETURN_IF_ERROR(writer->Commit(nullptr));
    return first_error.status();
  }

  // Reads ids[index[...]] (all plain objects or chunk lists) until every one came, verifies
  // and stores each, and hands its bytes to `fn`.
  Status FetchBatch(Transport& t, PackWriter& writer, const std::vector<ContentId>& ids,
                    const std::vector<size_t>& index,
                    const std::function<void(size_t, std::string_view)>& fn) {
    std::vector<ContentId> wanted;
    for (size_t i : index) wanted.push_back(ids[i]);
    return ReadVerified(t, writer, wanted, [&](size_t k, std::string_view bytes) {
      if (fn) fn(index[k], bytes);
    });
  }

  Status ReadVerified(Transport& t, PackWriter& writer, const std::vector<ContentId>& wanted,
                      const std::function<void(size_t, std::string_view)>& fn) {
    // A server may answer with a prefix of the ids asked (docs/remote.md, "Hostile peers").
    for (size_t done = 0; done < wanted.size();) {
      std::vector<ContentId> ask(wanted.begin() + done, wanted.end());
      std::string batch;
      VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, ReadObjectPrefix(t, ask, &batch));
      for (size_t k = 0; k < records.size(); ++k) {
        const BatchRecord& r = records[k];
        if (r.codec == ObjectLocation::Codec::kChunked) {
          VREPO_ASSIGN_OR_RETURN(std::string whole, ReadChunked(t, writer, r));
          fn(done + k, whole);
          continue;
        }
        // Hashing streams, so a forged size costs no memory before it is refused.
        VREPO_RETURN_IF_ERROR(VerifyBatchRecord(r, records, {}));
        VREPO_ASSIGN_OR_RETURN(std::string bytes, DecodeRecordBytes(r));
        VREPO_RETURN_IF_ERROR(writer.PutVerified(r.id, r.codec, r.raw_size, r.stored, {}));
        fn(done + k, bytes);
      }
      done += records.size();
    }
    return Status::OK();
  }

  // A chunked object: its chunks are read and stored first, then its chunk list.
  Result<std::string> ReadChunked(Transport& t, PackWriter& writer, const BatchRecord& list) {
    std::vector<ContentId> chunk_ids;
    for (const ChunkRef& c : list.chunks) chunk_ids.push_back(c.id);
    std::vector<std::string> parts(chunk_ids.size());
    VREPO_RETURN_IF_ERROR(ReadVerified(t, writer, chunk_ids,
                                       [&](size_t k, std::string_view b) { parts[k].assign(b); }));
    std::string whole;
    whole.reserve(list.raw_size);
    for (size_t k = 0; k < parts.size(); ++k) {
      if (parts[k].size() != list.chunks[k].size) {
        return Status::Corruption("object " + list.id.Hex() + ": its chunk " +
                                  list.chunks[k].id.Hex() + " is not the size its list says");
      }
      whole.append(parts[k]);
    }
    if (ContentId::Of(whole) != list.id) {
      return Status::Corruption("object " + list.id.Hex() + ": its chunks do not hash to it");
    }
    VREPO_RETURN_IF_ERROR(writer.PutVerified(list.id, list.codec, list.raw_size, {}, list.chunks));
    return whole;
  }

  // A connection of its own for one stream: an idle one, or a new one.
  Result<std::unique_ptr<Transport>> Connection() {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto t = std::move(idle_.back());
      idle_.pop_back();
      return t;
    }
    if (!base_) {
      // The remote's configuration is read now, not when the repository was opened: a
      // command that reads nothing absent must work with the remote gone.
      VREPO_ASSIGN_OR_RETURN(RemoteConfig rc, GetRemote(repo_, remote_));
      url_ = rc.url;
      VREPO_ASSIGN_OR_RETURN(base_, OpenTransport(url_, TransportOptionsFor(repo_, rc)));
    }
    return base_->Connect();
  }

  const Repository& repo_;  // owns the store that owns this source
  const std::string root_;
  const std::string remote_;
  const int jobs_;
  ObjectStore* const store_;  // null for a read-only repository

  std::mutex mu_;  // guards everything below
  std::string url_;
  std::unique_ptr<Transport> base_;
  std::vector<std::unique_ptr<Transport>> idle_;
  // For a read-only repository: a read-only view opened after the last fetch stored.
  std::shared_ptr<Repository> fetched_view_;
  // Ids a fetch of a read-only repository is getting now; `landed_` says when they are in.
  std::unordered_set<ContentId, ContentIdHash> in_flight_;
  std::condition_variable landed_;
};

}  // namespace

std::function<bool(const FileEntry&)> LazyCloneKeeps(uint64_t threshold) {
  return [threshold](const FileEntry& f) {
    std::string name = f.path.substr(f.path.find_last_of('/') + 1);
    if (LazyNameEndsWith(name, ".csv") || LazyNameEndsWith(name, ".jsonl") ||
        name == ".vrepoignore") {
      return true;
    }
    // Images are the samples a lazy clone exists to leave behind, however small (a
    // Fashion-MNIST PNG is 300 bytes).
    return !IsImageName(name) && f.size <= threshold;
  };
}

Status MarkLazy(const Repository& repo, const std::string& remote) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile config, ConfigFile::Open(repo.config_path()));
  return config.SetString(kLazyRemoteKey, remote);
}

Status InstallLazySource(Repository& repo, int jobs) {
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> remote, LazyRemote(repo));
  if (!remote) return Status::OK();
  repo.store().SetSource(std::make_shared<LazyRemoteSource>(repo, *remote, jobs));
  return Status::OK();
}

}  // namespace vrepo
