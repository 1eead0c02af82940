#include "vrepo/remote/s3_transport.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "vrepo/history/history.h"
#include "vrepo/remote/object_batch.h"
#include "vrepo/remote/s3_client.h"
#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"

extern char** environ;

namespace vrepo {

namespace {

// Packs of content objects as the sync hands them over; bigger than a server's batches,
// because every pack costs an index GET on each fetch.
constexpr uint64_t kS3PackBytes = 96ull << 20;
constexpr size_t kS3PackObjects = 65536;
// Packs above this go up as multipart uploads of kS3PartBytes parts.
constexpr uint64_t kS3MultipartBytes = 64ull << 20;
constexpr uint64_t kS3PartBytes = 16ull << 20;
// Parallel requests inside one operation (index loads, parts, ref reads).
constexpr size_t kS3Parallel = 8;
// One answer to ReadObjects holds at most this much (at least one object); the sync asks
// again for the rest.
constexpr uint64_t kS3ReadAnswerBytes = 32ull << 20;
// Records of one pack are read with a single ranged GET when the gap between them is at most
// this, or at most the bytes the GET already wants: a whole clone reads packs whole, and a
// sparse read (a lazy clone's 5% of the samples) reads at most about twice what it needs.
constexpr uint64_t kS3RangeGap = 4096;
// No record is this big (files over 4 MiB are chunked); an index that says so is refused
// before a read of that size is asked for.
constexpr uint64_t kS3MaxRecordBytes = 256ull << 20;
constexpr std::string_view kS3IndexMagic = "VRI1";
constexpr size_t kS3IndexEntry = 32 + 8 + 8;

void S3IndexPutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t S3IndexGetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::map<std::string, std::string> S3ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string_view::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

bool S3IsRefName(std::string_view key) {
  return key.starts_with("refs/heads/") || key.starts_with("refs/tags/") ||
         key.starts_with("refs/runs/") || key.starts_with("refs/models/");
}

// Where a pack's object is: which pack, and the record's byte range in it.
struct S3ObjectPlace {
  size_t pack = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

}  // namespace

// What every connection of one transport shares: settings, counters, the pack index, the
// history cache. `mu` guards the mutable parts.
struct S3Shared {
  std::string url;
  S3Settings settings;
  S3ClientOptions client_options;
  TransportOptions options;
  std::string cache_dir;
  bool temporary_cache = false;
  std::atomic<uint64_t> parts_reused{0};

  // Held for a whole LoadIndex, so that parallel streams share one listing and one download
  // of each index.
  std::mutex load_mu;
  std::mutex mu;
  bool index_listed = false;
  // ListRefs found no bucket: the first write creates it before it writes.
  bool bucket_missing = false;
  std::vector<std::string> pack_names;  // hex SHA-256 of each pack, by S3ObjectPlace::pack
  std::unordered_map<std::string, size_t> pack_numbers;
  std::unordered_map<ContentId, S3ObjectPlace, ContentIdHash> index;
  std::unique_ptr<History> history;  // the cache's git repository, opened on first use
  std::unordered_set<std::string> history_imported;
  bool conditions_checked = false;

  // Clients of finished parallel work, kept so that their connections are reused.
  std::mutex idle_mu;
  std::vector<std::unique_ptr<S3Client>> idle_clients;
  std::unique_ptr<S3Client> BorrowClient() {
    std::lock_guard lock(idle_mu);
    if (idle_clients.empty()) return std::make_unique<S3Client>(settings, client_options);
    std::unique_ptr<S3Client> client = std::move(idle_clients.back());
    idle_clients.pop_back();
    return client;
  }
  void ReturnClient(std::unique_ptr<S3Client> client) {
    std::lock_guard lock(idle_mu);
    if (idle_clients.size() < 2 * kS3Parallel) idle_clients.push_back(std::move(client));
  }

  ~S3Shared() {
    history.reset();
    if (temporary_cache) (void)RemoveTree(cache_dir);
  }

  std::string Where() const { return url; }
  std::string Err(const std::string& what) const { return "S3 remote " + url + ": " + what; }
  // Registers a pack's index entries; the caller holds `mu`.
  void AddPackLocked(const std::string& name, const std::vector<S3PackIndexEntry>& entries) {
    if (pack_numbers.count(name)) return;
    const size_t number = pack_names.size();
    pack_names.push_back(name);
    pack_numbers.emplace(name, number);
    for (const S3PackIndexEntry& e : entries) {
      index.emplace(e.id, S3ObjectPlace{number, e.offset, e.length});
    }
  }
};

namespace {

// Runs fn(client, i) for i in [0, n) on up to kS3Parallel threads, each with its own client.
Status S3ParallelFor(S3Shared& shared, size_t n,
                     const std::function<Status(S3Client&, size_t)>& fn) {
  if (n == 0) return Status::OK();
  std::atomic<size_t> next{0};
  FirstError first_error;
  auto worker = [&] {
    std::unique_ptr<S3Client> client = shared.BorrowClient();
    while (!first_error.failed()) {
      const size_t i = next.fetch_add(1);
      if (i >= n) break;
      first_error.Record(CatchExceptions("S3 request", [&] { return fn(*client, i); }));
    }
    shared.ReturnClient(std::move(client));
  };
  const size_t threads = std::min(n, kS3Parallel);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return first_error.status();
}

// The names of the objects under `dir` ("packs/") whose keys end in `suffix` (".idx"), without
// either; none when there is no bucket yet.
Result<std::vector<std::string>> S3ListNames(S3Client& client, const std::string& dir,
                                             std::string_view suffix) {
  auto listed = client.List(dir);
  if (!listed.ok() && listed.status().code() == Status::Code::kNotFound) {
    return std::vector<std::string>();
  }
  if (!listed.ok()) return listed.status();
  std::vector<std::string> names;
  for (const S3ObjectInfo& o : *listed) {
    if (o.key.ends_with(suffix)) {
      names.push_back(o.key.substr(dir.size(), o.key.size() - dir.size() - suffix.size()));
    }
  }
  return names;
}

// The index of a pack holding `records` (a batch of `batch_size` bytes): each record runs to
// where the next begins.
std::vector<S3PackIndexEntry> S3IndexEntriesOf(const std::vector<BatchRecord>& records,
                                               uint64_t batch_size) {
  std::vector<S3PackIndexEntry> entries;
  for (size_t i = 0; i < records.size(); ++i) {
    const uint64_t end = i + 1 < records.size() ? records[i + 1].offset : batch_size;
    entries.push_back({records[i].id, records[i].offset, end - records[i].offset});
  }
  return entries;
}

class S3Transport : public Transport {
 public:
  explicit S3Transport(std::shared_ptr<S3Shared> shared)
      : shared_(std::move(shared)), client_(shared_->settings, shared_->client_options) {}

  std::string Describe() const override { return shared_->url; }
  BatchLimits PreferredBatch() const override { return {kS3PackBytes, kS3PackObjects}; }

  Result<RefListing> ListRefs() override;
  Result<std::vector<ContentId>> MissingObjects(const std::vector<ContentId>& ids) override;
  Result<std::string> ReadObjects(const std::vector<ContentId>& ids) override;
  Result<uint64_t> WriteObjects(std::string_view batch) override;
  Result<std::string> ReadHistory(const std::vector<std::string>& wants,
                                  const std::vector<std::string>& haves) override;
  Status WriteHistory(std::string_view git_pack) override;
  Status UpdateRefs(const std::vector<RefUpdate>& updates) override;
  Result<std::unique_ptr<Transport>> Connect() const override {
    return std::unique_ptr<Transport>(new S3Transport(shared_));
  }

  S3Shared& shared() { return *shared_; }
  const S3Shared& shared() const { return *shared_; }
  // Loads the index of every pack not loaded yet (all of them again with `relist`).
  Status LoadIndex(bool relist);
  // Imports every history pack not imported yet into the cache's git repository.
  Result<History*> LoadHistory();

 private:
  // Creates the bucket when ListRefs found none (the first push to a new bucket).
  Status CreateMissingBucket();
  // A write that creates the bucket first when it does not exist yet (the first push).
  Result<std::string> PutCreatingBucket(const std::string& key, std::string_view bytes,
                                        const S3Condition& condition);
  Status UploadPack(const std::string& key, std::string_view pack);
  Status CheckConditionalWrites();
  // A ref object's commit ("" when the ref is absent or deleted) and its ETag.
  Result<std::pair<std::string, std::string>> ReadRefObject(S3Client& client,
                                                            const std::string& name);

  std::shared_ptr<S3Shared> shared_;
  S3Client client_;
};

Result<std::pair<std::string, std::string>> S3Transport::ReadRefObject(S3Client& client,
                                                                       const std::string& name) {
  std::string etag;
  auto body = client.Get(name, std::nullopt, std::nullopt, &etag);
  if (!body.ok()) {
    if (body.status().code() == Status::Code::kNotFound)
      return std::pair<std::string, std::string>();
    return body.status();
  }
  std::string_view text = *body;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  // An empty object is a deleted ref: DELETE ignores conditions, so deletion is a write.
  if (!text.empty() && !(text.size() == 40 && IsLowerHex(text))) {
    return Status::Corruption(shared_->Err("ref " + name + " does not hold a commit id"));
  }
  return std::pair<std::string, std::string>(std::string(text), etag);
}

Result<RefListing> S3Transport::ListRefs() {
  auto listed = client_.List("refs/");
  if (!listed.ok()) {
    if (listed.status().code() == Status::Code::kNotFound) {
      std::lock_guard lock(shared_->mu);
      shared_->bucket_missing = true;
      return Status::NotFound(shared_->Err("no such bucket"));
    }
    return listed.status();
  }
  std::vector<std::string> names;
  for (const S3ObjectInfo& o : *listed) {
    if (S3IsRefName(o.key)) names.push_back(o.key);
  }
  std::vector<std::string> targets(names.size());
  VREPO_RETURN_IF_ERROR(S3ParallelFor(*shared_, names.size(), [&](S3Client& client, size_t i) {
    VREPO_ASSIGN_OR_RETURN(auto ref, ReadRefObject(client, names[i]));
    targets[i] = ref.first;
    return Status::OK();
  }));
  RefListing listing;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!targets[i].empty()) listing.refs.push_back({names[i], targets[i]});
  }
  std::sort(listing.refs.begin(), listing.refs.end(),
            [](const RemoteRef& a, const RemoteRef& b) { return a.name < b.name; });
  auto head = client_.Get("HEAD");
  if (head.ok()) {
    std::string_view text = *head;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.starts_with("ref: refs/heads/")) {
      return Status::Corruption(shared_->Err("HEAD does not name a branch"));
    }
    listing.head_branch = std::string(text.substr(5));
  } else if (head.status().code() != Status::Code::kNotFound) {
    return head.status();
  } else if (listing.refs.empty()) {
    return Status::NotFound(shared_->Err("no repository there yet"));
  }
  return listing;
}

Status S3Transport::LoadIndex(bool relist) {
  S3Shared& s = *shared_;
  std::lock_guard load_lock(s.load_mu);
  {
    std::lock_guard lock(s.mu);
    if (s.index_listed && !relist) return Status::OK();
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> names, S3ListNames(client_, "packs/", ".idx"));
  std::vector<std::string> todo;
  {
    std::lock_guard lock(s.mu);
    for (std::string& name : names) {
      if (!s.pack_numbers.count(name)) todo.push_back(std::move(name));
    }
  }
  const std::string cache = JoinPath(s.cache_dir, "packs");
  VREPO_RETURN_IF_ERROR(MakeDirs(cache));
  VREPO_RETURN_IF_ERROR(S3ParallelFor(s, todo.size(), [&](S3Client& client, size_t i) -> Status {
    const std::string& name = todo[i];
    VREPO_ASSIGN_OR_RETURN(ContentId pack, ContentId::FromHex(name));
    const std::string cached = JoinPath(cache, name + ".idx");
    const std::string source = s.Err("pack index packs/" + name + ".idx");
    // Indexes never change (a pack's name is its hash), so a cached copy is as good.
    auto bytes = ReadFile(cached);
    bool fresh = false;
    if (!bytes.ok()) {
      bytes = client.Get("packs/" + name + ".idx");
      if (!bytes.ok()) return bytes.status();
      fresh = true;
    }
    auto entries = DecodeS3PackIndex(*bytes, pack, source);
    if (!entries.ok()) return entries.status();
    if (fresh) VREPO_RETURN_IF_ERROR(WriteFileAtomic(cached, *bytes));
    std::lock_guard lock(s.mu);
    s.AddPackLocked(name, *entries);
    return Status::OK();
  }));
  std::lock_guard lock(s.mu);
  s.index_listed = true;
  return Status::OK();
}

Result<std::vector<ContentId>> S3Transport::MissingObjects(const std::vector<ContentId>& ids) {
  VREPO_RETURN_IF_ERROR(LoadIndex(false));
  std::vector<ContentId> missing;
  std::lock_guard lock(shared_->mu);
  for (const ContentId& id : ids) {
    if (!shared_->index.count(id)) missing.push_back(id);
  }
  return missing;
}

Result<std::string> S3Transport::ReadObjects(const std::vector<ContentId>& ids) {
  VREPO_RETURN_IF_ERROR(LoadIndex(false));
  S3Shared& s = *shared_;
  std::vector<S3ObjectPlace> places;
  bool relisted = false;
  uint64_t total = 0;
  for (const ContentId& id : ids) {
    std::optional<S3ObjectPlace> place;
    for (;;) {
      {
        std::lock_guard lock(s.mu);
        auto it = s.index.find(id);
        if (it != s.index.end()) place = it->second;
      }
      if (place || relisted) break;
      // Another client may have pushed it since the index was loaded.
      VREPO_RETURN_IF_ERROR(LoadIndex(true));
      relisted = true;
    }
    if (!place) return Status::NotFound(s.Err("object " + id.Hex() + " is not there"));
    if (!places.empty() && total + place->length > kS3ReadAnswerBytes) break;
    places.push_back(*place);
    total += place->length;
  }
  // Ranges of one pack close to each other are read together.
  std::vector<size_t> order(places.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(places[a].pack, places[a].offset) < std::tie(places[b].pack, places[b].offset);
  });
  struct Span {
    size_t pack;
    uint64_t begin, end;
    uint64_t wanted;  // bytes of the records asked for
    std::vector<size_t> members;
    std::string bytes;
  };
  std::vector<Span> spans;
  for (size_t i : order) {
    const S3ObjectPlace& p = places[i];
    if (spans.empty() || spans.back().pack != p.pack ||
        p.offset > spans.back().end + std::max(kS3RangeGap, spans.back().wanted)) {
      spans.push_back({p.pack, p.offset, p.offset + p.length, 0, {}, {}});
    }
    spans.back().end = std::max(spans.back().end, p.offset + p.length);
    spans.back().wanted += p.length;
    spans.back().members.push_back(i);
  }
  std::vector<std::string> names;
  {
    std::lock_guard lock(s.mu);
    for (const Span& span : spans) names.push_back(s.pack_names[span.pack]);
  }
  auto read_span = [&](S3Client& client, size_t k) -> Status {
    Span& span = spans[k];
    VREPO_ASSIGN_OR_RETURN(
        span.bytes, client.Get("packs/" + names[k] + ".vrb", span.begin, span.end - span.begin));
    if (span.bytes.size() != span.end - span.begin) {
      return Status::Corruption(s.Err("pack " + names[k] + " is shorter than its index says"));
    }
    return Status::OK();
  };
  if (spans.size() == 1) {
    VREPO_RETURN_IF_ERROR(read_span(client_, 0));
  } else {
    VREPO_RETURN_IF_ERROR(S3ParallelFor(s, spans.size(), read_span));
  }
  std::vector<std::string_view> records(places.size());
  for (const Span& span : spans) {
    for (size_t i : span.members) {
      records[i] =
          std::string_view(span.bytes).substr(places[i].offset - span.begin, places[i].length);
    }
  }
  std::string batch = "VRB1";
  const auto count = static_cast<uint32_t>(records.size());
  for (int i = 0; i < 4; ++i) batch.push_back(static_cast<char>((count >> (8 * i)) & 0xff));
  batch.reserve(8 + total);
  for (size_t i = 0; i < records.size(); ++i) {
    // The reader verifies every record by its id; this catches an index that points astray.
    if (records[i].size() < 32 || std::memcmp(records[i].data(), ids[i].bytes.data(), 32) != 0) {
      return Status::Corruption(
          s.Err("the index places object " + ids[i].Hex() + " where its pack holds another"));
    }
    batch.append(records[i]);
  }
  return batch;
}

Status S3Transport::CreateMissingBucket() {
  bool create = false;
  {
    std::lock_guard lock(shared_->mu);
    std::swap(create, shared_->bucket_missing);
  }
  return create ? client_.CreateBucket() : Status::OK();
}

Result<std::string> S3Transport::PutCreatingBucket(const std::string& key, std::string_view bytes,
                                                   const S3Condition& condition) {
  VREPO_RETURN_IF_ERROR(CreateMissingBucket());
  auto put = client_.Put(key, bytes, condition);
  if (!put.ok() && put.status().code() == Status::Code::kNotFound &&
      put.status().message().find("NoSuchBucket") != std::string::npos) {
    VREPO_RETURN_IF_ERROR(client_.CreateBucket());
    put = client_.Put(key, bytes, condition);
  }
  return put;
}

Status S3Transport::UploadPack(const std::string& key, std::string_view pack) {
  if (pack.size() <= kS3MultipartBytes) return PutCreatingBucket(key, pack, {}).status();
  S3Shared& s = *shared_;
  const size_t parts = (pack.size() + kS3PartBytes - 1) / kS3PartBytes;
  auto part_bytes = [&](size_t i) { return pack.substr(i * kS3PartBytes, kS3PartBytes); };
  // The same objects make the same pack and so the same key: an upload an interrupted push
  // left there is resumed, keeping each part whose MD5 matches.
  std::string upload_id;
  std::vector<S3Part> done(parts);
  auto uploads = client_.ListMultipartUploads(key);
  if (uploads.ok() && !uploads->empty()) {
    upload_id = uploads->front();
    VREPO_ASSIGN_OR_RETURN(std::vector<S3Part> existing, client_.ListParts(key, upload_id));
    for (const S3Part& part : existing) {
      const size_t i = static_cast<size_t>(part.number) - 1;
      if (part.number >= 1 && i < parts && part.size == part_bytes(i).size() &&
          part.etag == S3PartETag(part_bytes(i))) {
        done[i] = part;
        s.parts_reused += 1;
      }
    }
    for (size_t k = 1; k < uploads->size(); ++k) {
      (void)client_.AbortMultipartUpload(key, (*uploads)[k]);  // leftovers of older tries
    }
  } else {
    VREPO_RETURN_IF_ERROR(CreateMissingBucket());
    auto created = client_.CreateMultipartUpload(key);
    if (!created.ok() && created.status().code() == Status::Code::kNotFound) {
      VREPO_RETURN_IF_ERROR(client_.CreateBucket());
      created = client_.CreateMultipartUpload(key);
    }
    if (!created.ok()) return created.status();
    upload_id = *created;
  }
  std::vector<size_t> todo;
  for (size_t i = 0; i < parts; ++i) {
    if (done[i].number == 0) todo.push_back(i);
  }
  VREPO_RETURN_IF_ERROR(S3ParallelFor(s, todo.size(), [&](S3Client& client, size_t k) -> Status {
    const size_t i = todo[k];
    VREPO_ASSIGN_OR_RETURN(
        std::string etag,
        client.UploadPart(key, upload_id, static_cast<int>(i + 1), part_bytes(i)));
    done[i] = {static_cast<int>(i + 1), etag, part_bytes(i).size()};
    return Status::OK();
  }));
  VREPO_RETURN_IF_ERROR(client_.CompleteMultipartUpload(key, upload_id, done));
  // CompleteMultipartUpload may not say what it made (radosgw answers no ETag): check it.
  VREPO_ASSIGN_OR_RETURN(S3ObjectInfo info, client_.Head(key));
  if (info.size != pack.size()) {
    return Status::IOError(s.Err("pack " + key + " is " + std::to_string(info.size) +
                                 " bytes after its upload, not " + std::to_string(pack.size())));
  }
  return Status::OK();
}

Result<uint64_t> S3Transport::WriteObjects(std::string_view batch) {
  S3Shared& s = *shared_;
  VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, ParseObjectBatch(batch));
  // No server checks what arrives: the batch comes from this client's own store, and every
  // reader verifies each object by its id (fsck --remote verifies them all).
  VREPO_RETURN_IF_ERROR(LoadIndex(false));
  uint64_t added = 0;
  {
    std::lock_guard lock(s.mu);
    for (const BatchRecord& r : records) added += s.index.count(r.id) == 0 ? 1 : 0;
  }
  if (added == 0) return 0;
  const ContentId pack = ContentId::Of(batch);
  const std::string name = pack.Hex();
  // The pack first, its index last: a pack is visible only once its index exists, so a
  // reader never finds an object whose bytes are not there yet.
  VREPO_RETURN_IF_ERROR(UploadPack("packs/" + name + ".vrb", batch));
  const std::vector<S3PackIndexEntry> entries = S3IndexEntriesOf(records, batch.size());
  const std::string index = EncodeS3PackIndex(pack, entries);
  VREPO_RETURN_IF_ERROR(PutCreatingBucket("packs/" + name + ".idx", index, {}).status());
  const std::string cache = JoinPath(s.cache_dir, "packs");
  if (MakeDirs(cache).ok()) (void)WriteFileAtomic(JoinPath(cache, name + ".idx"), index);
  std::lock_guard lock(s.mu);
  s.AddPackLocked(name, entries);
  return added;
}

Result<History*> S3Transport::LoadHistory() {
  S3Shared& s = *shared_;
  {
    std::lock_guard lock(s.mu);
    if (!s.history) {
      const std::string meta = JoinPath(s.cache_dir, "history.git");
      if (!IsDir(meta)) {
        VREPO_RETURN_IF_ERROR(MakeDirs(s.cache_dir));
        VREPO_RETURN_IF_ERROR(History::Init(meta));
      }
      VREPO_ASSIGN_OR_RETURN(s.history, History::Open(meta));
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> names, S3ListNames(client_, "history/", ".pack"));
  const std::string done_dir = JoinPath(s.cache_dir, "history-imported");
  VREPO_RETURN_IF_ERROR(MakeDirs(done_dir));
  std::vector<std::string> todo;
  {
    std::lock_guard lock(s.mu);
    for (std::string& name : names) {
      if (!s.history_imported.count(name) && !IsDir(JoinPath(done_dir, name))) {
        todo.push_back(std::move(name));
      } else {
        s.history_imported.insert(std::move(name));
      }
    }
  }
  std::vector<std::string> packs(todo.size());
  VREPO_RETURN_IF_ERROR(S3ParallelFor(s, todo.size(), [&](S3Client& client, size_t i) -> Status {
    VREPO_ASSIGN_OR_RETURN(packs[i], client.Get("history/" + todo[i] + ".pack"));
    return Status::OK();
  }));
  std::lock_guard lock(s.mu);
  for (size_t i = 0; i < todo.size(); ++i) {
    if (ContentId::Of(packs[i]).Hex() != todo[i]) {
      return Status::Corruption(
          s.Err("history pack history/" + todo[i] + ".pack does not match its name"));
    }
    auto imported = s.history->ImportPack(packs[i]);
    if (!imported.ok()) {
      return imported.status().WithContext(s.Err("history pack history/" + todo[i] + ".pack"));
    }
    VREPO_RETURN_IF_ERROR(MakeDirs(JoinPath(done_dir, todo[i])));
    s.history_imported.insert(todo[i]);
  }
  return s.history.get();
}

Result<std::string> S3Transport::ReadHistory(const std::vector<std::string>& wants,
                                             const std::vector<std::string>& haves) {
  VREPO_ASSIGN_OR_RETURN(History * history, LoadHistory());
  std::lock_guard lock(shared_->mu);
  return history->ExportPack(wants, haves);
}

Status S3Transport::WriteHistory(std::string_view git_pack) {
  const std::string name = ContentId::Of(git_pack).Hex();
  // The cache imports it only when a fetch needs it: a push need not pay for indexing it.
  return PutCreatingBucket("history/" + name + ".pack", git_pack, {}).status();
}

Status S3Transport::CheckConditionalWrites() {
  S3Shared& s = *shared_;
  if (s.options.s3_single_writer) return Status::OK();
  {
    std::lock_guard lock(s.mu);
    if (s.conditions_checked) return Status::OK();
  }
  // Once per store and bucket: the answer is kept in the cache.
  const std::string marker = JoinPath(
      s.cache_dir,
      "conditional-writes-" +
          ContentId::Of(s.settings.endpoint + "\n" + s.settings.bucket).Hex().substr(0, 16));
  if (!ReadFile(marker).ok()) {
    std::mt19937_64 random{std::random_device{}()};
    const std::string key = "probe/" + std::to_string(random()) + "-" + std::to_string(::getpid());
    VREPO_RETURN_IF_ERROR(PutCreatingBucket(key, "probe", S3Condition::Absent()).status());
    auto second = client_.Put(key, "probe", S3Condition::Absent());
    (void)client_.Delete(key);
    if (second.ok()) {
      const std::string remote = s.options.remote_name.empty() ? "NAME" : s.options.remote_name;
      return Status::InvalidArgument(
          s.Err("the store ignores conditional writes (If-None-Match), so two pushes at once "
                "could lose a ref; refusing to move refs (for a single writer, set remote." +
                remote + ".s3-single-writer = true)"));
    }
    if (second.status().code() != Status::Code::kConflict) return second.status();
    VREPO_RETURN_IF_ERROR(MakeDirs(s.cache_dir));
    VREPO_RETURN_IF_ERROR(WriteFileAtomic(marker, "ok\n"));
  }
  std::lock_guard lock(s.mu);
  s.conditions_checked = true;
  return Status::OK();
}

Status S3Transport::UpdateRefs(const std::vector<RefUpdate>& updates) {
  S3Shared& s = *shared_;
  VREPO_RETURN_IF_ERROR(CheckConditionalWrites());
  auto reject = [&](const std::string& name) {
    return Status::Conflict("rejected: " + name + " changed on the remote (fetch first)");
  };
  // Every ref is checked before any moves; each move is then a compare-and-swap on the
  // ETag read here, so a push that raced ahead in between is caught too.
  std::vector<std::string> etags;
  for (const RefUpdate& u : updates) {
    if (!S3IsRefName(u.name)) return Status::InvalidArgument(s.Err("not a ref name: " + u.name));
    VREPO_ASSIGN_OR_RETURN(auto current, ReadRefObject(client_, u.name));
    if (current.first != u.old_target) return reject(u.name);
    etags.push_back(current.second);
  }
  std::vector<std::string> moved_etags;
  for (size_t i = 0; i < updates.size(); ++i) {
    const RefUpdate& u = updates[i];
    const S3Condition condition =
        etags[i].empty() ? S3Condition::Absent() : S3Condition::Matches(etags[i]);
    const std::string body = u.new_target.empty() ? "" : u.new_target + "\n";
    auto put = PutCreatingBucket(u.name, body, condition);
    if (!put.ok()) {
      // Put back what this call moved, each only if nobody moved it since.
      for (size_t k = 0; k < moved_etags.size(); ++k) {
        const std::string old = updates[k].old_target.empty() ? "" : updates[k].old_target + "\n";
        (void)client_.Put(updates[k].name, old, S3Condition::Matches(moved_etags[k]));
      }
      if (put.status().code() == Status::Code::kConflict) return reject(u.name);
      return put.status();
    }
    moved_etags.push_back(*put);
  }
  // The first branch pushed becomes HEAD, as for a bare repository a push creates.
  for (const RefUpdate& u : updates) {
    if (!u.name.starts_with(kHeadsPrefix) || u.new_target.empty()) continue;
    auto head = client_.Put("HEAD", "ref: " + u.name + "\n", S3Condition::Absent());
    if (!head.ok() && head.status().code() != Status::Code::kConflict) return head.status();
    break;
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Transport>> OpenS3Transport(const std::string& url,
                                                   const TransportOptions& options) {
  auto shared = std::make_shared<S3Shared>();
  shared->url = url;
  shared->options = options;
  VREPO_RETURN_IF_ERROR(ParseS3Url(url, &shared->settings));
  const char* home = std::getenv("HOME");
  VREPO_RETURN_IF_ERROR(
      ResolveS3Settings(S3ProcessEnvironment(), home ? home : "", options.s3, &shared->settings));
  shared->client_options.counters = std::make_shared<S3Counters>();
  if (options.cache_dir.empty()) {
    std::string tmpl =
        JoinPath(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp", "vrepo-s3-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Status::FromErrno("creating a temporary folder for " + url, errno);
    }
    shared->cache_dir = tmpl;
    shared->temporary_cache = true;
  } else {
    shared->cache_dir = options.cache_dir;
  }
  return std::unique_ptr<Transport>(new S3Transport(std::move(shared)));
}

std::optional<S3TransferStats> S3StatsOf(const Transport& transport) {
  const auto* s3 = dynamic_cast<const S3Transport*>(&transport);
  if (s3 == nullptr) return std::nullopt;
  const S3Shared& s = s3->shared();
  const S3Counters& c = *s.client_options.counters;
  return S3TransferStats{c.requests.load(), c.bytes_sent.load(), c.bytes_received.load(),
                         s.parts_reused.load()};
}

Result<S3RemoteCheck> CheckS3Remote(Transport& transport, Reporter* reporter) {
  auto* s3 = dynamic_cast<S3Transport*>(&transport);
  if (s3 == nullptr) {
    return Status::InvalidArgument(transport.Describe() + " is not an S3 remote");
  }
  S3Shared& s = s3->shared();
  S3Client client(s.settings, s.client_options);
  S3RemoteCheck check;
  VREPO_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> listed, client.List("packs/"));
  std::map<std::string, uint64_t> packs;  // name -> size
  std::unordered_set<std::string> indexes;
  for (const S3ObjectInfo& o : listed) {
    if (o.key.ends_with(".vrb")) packs[o.key.substr(6, o.key.size() - 10)] = o.size;
    if (o.key.ends_with(".idx")) indexes.insert(o.key.substr(6, o.key.size() - 10));
  }
  for (const std::string& name : indexes) {
    if (!packs.count(name)) check.problems.push_back("packs/" + name + ".idx: its pack is missing");
  }
  VREPO_RETURN_IF_ERROR(s3->LoadIndex(true));
  ChunkSource chunks = [&](const ContentId& id) -> Result<std::string> {
    VREPO_ASSIGN_OR_RETURN(std::string batch, s3->ReadObjects({id}));
    VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, DecodeObjectBatch(batch, {}));
    return DecodeRecordBytes(records.at(0));
  };
  ReportedStep progress(reporter, "checking packs", packs.size());
  for (const auto& [name, size] : packs) {
    const std::string where = "packs/" + name + ".vrb";
    progress.Advance(1);
    if (!indexes.count(name)) {
      ++check.unindexed_packs;  // an interrupted push's: never read, harmless
      continue;
    }
    ++check.packs;
    VREPO_ASSIGN_OR_RETURN(std::string bytes, client.Get(where));
    progress.AdvanceBytes(bytes.size());
    check.pack_bytes += bytes.size();
    if (ContentId::Of(bytes).Hex() != name) {
      check.problems.push_back(where + ": its SHA-256 does not match its name");
      continue;
    }
    auto records = DecodeObjectBatch(bytes, chunks);
    if (!records.ok()) {
      check.problems.push_back(where + ": " + records.status().message());
      continue;
    }
    check.objects += records->size();
    VREPO_ASSIGN_OR_RETURN(ContentId pack, ContentId::FromHex(name));
    VREPO_ASSIGN_OR_RETURN(std::string index_bytes, client.Get("packs/" + name + ".idx"));
    auto entries = DecodeS3PackIndex(index_bytes, pack, "packs/" + name + ".idx");
    if (!entries.ok()) {
      check.problems.push_back(entries.status().message());
      continue;
    }
    if (*entries != S3IndexEntriesOf(*records, bytes.size())) {
      check.problems.push_back("packs/" + name + ".idx: does not match its pack");
    }
  }
  progress.End();
  VREPO_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> history_packs, client.List("history/"));
  check.history_packs = history_packs.size();
  VREPO_ASSIGN_OR_RETURN(History * history, s3->LoadHistory());
  VREPO_ASSIGN_OR_RETURN(RefListing listing, s3->ListRefs());
  check.refs = listing.refs.size();
  // Each ref is checked beyond the refs already found complete.
  std::vector<std::string> complete;
  std::lock_guard lock(s.mu);
  for (const RemoteRef& ref : listing.refs) {
    auto delta = history->NewHistory({ref.target}, complete);
    if (!delta.ok()) {
      check.problems.push_back(ref.name + ": " + delta.status().message());
      continue;
    }
    bool whole = true;
    for (const FileEntry& f : delta->files) {
      if (!s.index.count(f.id)) {
        check.problems.push_back(ref.name + ": content " + f.id.Hex() + " of '" + f.path +
                                 "' is missing");
        whole = false;
      }
    }
    if (whole) complete.push_back(ref.target);
  }
  return check;
}

std::string EncodeS3PackIndex(const ContentId& pack, const std::vector<S3PackIndexEntry>& entries) {
  std::string out(kS3IndexMagic);
  const auto count = static_cast<uint32_t>(entries.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((count >> (8 * i)) & 0xff));
  out.append(reinterpret_cast<const char*>(pack.bytes.data()), 32);
  for (const S3PackIndexEntry& e : entries) {
    out.append(reinterpret_cast<const char*>(e.id.bytes.data()), 32);
    S3IndexPutU64(&out, e.offset);
    S3IndexPutU64(&out, e.length);
  }
  return out;
}

Result<std::vector<S3PackIndexEntry>> DecodeS3PackIndex(std::string_view bytes,
                                                        const ContentId& pack,
                                                        const std::string& source) {
  auto corrupt = [&](const std::string& why) { return Status::Corruption(source + ": " + why); };
  if (bytes.size() < 40 || bytes.substr(0, 4) != kS3IndexMagic) {
    return corrupt("not a pack index (no VRI1 header)");
  }
  uint32_t count = 0;
  for (int i = 0; i < 4; ++i)
    count |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[4 + i])) << (8 * i);
  if (std::memcmp(bytes.data() + 8, pack.bytes.data(), 32) != 0) {
    return corrupt("indexes another pack");
  }
  if ((bytes.size() - 40) / kS3IndexEntry != count || (bytes.size() - 40) % kS3IndexEntry != 0) {
    return corrupt("size does not match its count of " + std::to_string(count) + " objects");
  }
  std::vector<S3PackIndexEntry> entries(count);
  // Records start after the 8-byte batch header and follow each other without gaps.
  uint64_t expected = 8;
  for (uint32_t i = 0; i < count; ++i) {
    const char* p = bytes.data() + 40 + static_cast<size_t>(i) * kS3IndexEntry;
    VREPO_ASSIGN_OR_RETURN(entries[i].id, ContentId::FromRaw(std::string_view(p, 32)));
    entries[i].offset = S3IndexGetU64(p + 32);
    entries[i].length = S3IndexGetU64(p + 40);
    if (entries[i].offset != expected || entries[i].length < 49 ||
        entries[i].length > kS3MaxRecordBytes) {
      return corrupt("entry " + std::to_string(i) + " has an impossible offset or length");
    }
    expected += entries[i].length;
  }
  return entries;
}

}  // namespace vrepo
