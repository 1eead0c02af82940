// ObjectStore: opening and creating a store, starting write sessions, and reads. Pack bytes are
// read by PackReader (pack_reader.cc), written by PackWriter (pack_writer.cc); fsck, gc and index
// rebuild have files of their own.
#include "vrepo/store/object_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <tuple>

#include "compression.h"
#include "object_store_impl.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace {

// Looks up the locations of ids[order[k]] for every k, in blocks of keys in ascending order
// (`order` sorts `ids`), into locs[i] for ids[i]. NotFound names the first absent object,
// unless `absent` is given: then absent ids are marked there instead.
Status LocateSorted(const IndexDb& index, const std::vector<ContentId>& ids,
                    const std::vector<size_t>& order, ThreadPool& pool,
                    std::vector<ObjectLocation>* locs, std::vector<char>* absent) {
  // Work is handed out in blocks: one pool task per object would spend more on the pool's lock than
  // on a small object.
  constexpr size_t kLookupBlock = 4096;
  const size_t n = ids.size();
  const size_t blocks = (n + kLookupBlock - 1) / kLookupBlock;
  std::vector<Status> errors(blocks);
  VREPO_RETURN_IF_ERROR(pool.ParallelFor(blocks, [&](size_t b) {
    const size_t begin = b * kLookupBlock, end = std::min(n, begin + kLookupBlock);
    std::vector<std::string> keys, values;
    std::vector<bool> found;
    for (size_t k = begin; k < end; ++k) keys.push_back(ObjectKey(ids[order[k]]));
    Status st = index.MultiGet(keys, &values, &found);
    for (size_t k = begin; st.ok() && k < end; ++k) {
      const ContentId& id = ids[order[k]];
      if (!found[k - begin] && absent != nullptr) {
        (*absent)[order[k]] = 1;
      } else if (!found[k - begin]) {
        st = Status::NotFound("object " + id.Hex() + " is not in the store");
      } else {
        st = DecodeLocation(values[k - begin], id, &(*locs)[order[k]], nullptr);
      }
    }
    errors[b] = std::move(st);
  }));
  for (Status& st : errors) VREPO_RETURN_IF_ERROR(st);
  return Status::OK();
}

}  // namespace

ObjectStore::ObjectStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectStore::~ObjectStore() = default;

Status ObjectStore::Create(const std::string& vrepo_dir) {
  VREPO_RETURN_IF_ERROR(MakeDirs(JoinPath(vrepo_dir, "objects/packs")));
  VREPO_ASSIGN_OR_RETURN(auto index, IndexDb::Open(JoinPath(vrepo_dir, "index"), false, true));
  IndexBatch batch;
  batch.Put(kFormatKey, kFormatValue);
  return index->Write(&batch, true);
}

Result<std::unique_ptr<ObjectStore>> ObjectStore::Open(const std::string& vrepo_dir, bool read_only,
                                                       StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->vrepo_dir = vrepo_dir;
  impl->packs_dir = JoinPath(vrepo_dir, "objects/packs");
  impl->read_only = read_only;
  impl->options = options;
  if (!read_only) VREPO_RETURN_IF_ERROR(MakeDirs(impl->packs_dir));
  VREPO_ASSIGN_OR_RETURN(impl->index, IndexDb::Open(JoinPath(vrepo_dir, "index"), read_only));
  impl->reader = std::make_unique<PackReader>(impl->packs_dir, impl->index.get());
  auto format = impl->index->Get(kFormatKey);
  if (format.ok() && *format != kFormatValue) {
    return Status::InvalidArgument("store " + vrepo_dir + " has format " + *format +
                                   ", which this vrepo does not understand [upgrade vrepo]");
  }
  if (!format.ok() && !read_only) {
    IndexBatch batch;
    batch.Put(kFormatKey, kFormatValue);
    VREPO_RETURN_IF_ERROR(impl->index->Write(&batch, true));
  }
  if (read_only) {
    // Map every pack now: a gc by the writer may delete packs this reader's index snapshot still
    // names, and an existing mapping keeps their bytes readable.
    auto numbers = impl->reader->ListPacks();
    if (numbers.ok()) {
      for (uint32_t n : *numbers) (void)impl->reader->MapPack(n);
    }
  }
  return std::unique_ptr<ObjectStore>(new ObjectStore(std::move(impl)));
}

IndexDb& ObjectStore::index() { return *impl_->index; }
const StoreOptions& ObjectStore::options() const { return impl_->options; }

Result<std::unique_ptr<PackWriter>> ObjectStore::NewWriter() {
  if (impl_->read_only)
    return Status::InvalidArgument("store " + impl_->vrepo_dir + " is read-only");
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter::Impl> w,
                         PackWriter::Impl::Create(impl_.get()));
  return std::unique_ptr<PackWriter>(new PackWriter(std::move(w)));
}

void ObjectStore::SetSource(std::shared_ptr<ObjectSource> source) {
  impl_->source = std::move(source);
}

ObjectSource* ObjectStore::source() const { return impl_->source.get(); }

Result<uint64_t> ObjectStore::Prefetch(const std::vector<ContentId>& ids) {
  if (!impl_->source) return uint64_t{0};
  std::vector<ContentId> missing;
  for (const ContentId& id : ids) {
    if (!Contains(id)) missing.push_back(id);
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  if (!missing.empty()) VREPO_RETURN_IF_ERROR(impl_->source->Fetch(missing, nullptr));
  return uint64_t{missing.size()};
}

bool ObjectStore::Contains(const ContentId& id) const {
  return impl_->index->Get(ObjectKey(id)).ok();
}

Result<ObjectLocation> ObjectStore::Locate(const ContentId& id) const {
  ObjectLocation loc;
  VREPO_RETURN_IF_ERROR(impl_->reader->Locate(id, &loc, nullptr));
  return loc;
}

Result<std::string> ObjectStore::Get(const ContentId& id) const {
  const PackReader& reader = *impl_->reader;
  ObjectLocation loc;
  std::vector<ChunkRef> chunks;
  Status located = reader.Locate(id, &loc, &chunks);
  if (located.code() == Status::Code::kNotFound && impl_->source) {
    std::string fetched;
    VREPO_RETURN_IF_ERROR(
        impl_->source->Fetch({id}, [&](size_t, std::string_view bytes) { fetched.assign(bytes); }));
    return fetched;
  }
  VREPO_RETURN_IF_ERROR(located);
  std::string out;
  if (loc.codec == ObjectLocation::Codec::kChunked) {
    out.reserve(loc.raw_size);
    VREPO_RETURN_IF_ERROR(reader.ForEachChunk(id, chunks, [&](std::string_view bytes) {
      out.append(bytes);
      return Status::OK();
    }));
    return out;
  }
  std::shared_ptr<const MappedFile> hold;
  VREPO_ASSIGN_OR_RETURN(std::string_view bytes, reader.ReadPacked(id, loc, false, &hold, &out));
  if (loc.codec == ObjectLocation::Codec::kZstd) return out;  // decompressed in place
  return std::string(bytes);
}

Status ObjectStore::GetMany(const std::vector<ContentId>& ids, ThreadPool& pool,
                            const std::function<void(size_t, std::string_view)>& fn) const {
  constexpr size_t kReadBlock = 256;  // objects per pool task, as in LocateSorted
  const size_t n = ids.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  std::vector<ObjectLocation> locs(n);
  // With a source, absent objects come from it (in one call, so it can batch them) and the
  // present ones from the packs.
  std::vector<char> absent(impl_->source ? n : 0, 0);
  VREPO_RETURN_IF_ERROR(
      LocateSorted(*impl_->index, ids, order, pool, &locs, impl_->source ? &absent : nullptr));
  if (impl_->source) {
    std::vector<size_t> fetch_index;
    for (size_t i = 0; i < n; ++i) {
      if (absent[i]) fetch_index.push_back(i);
    }
    if (!fetch_index.empty()) {
      std::vector<ContentId> fetch_ids;
      for (size_t i : fetch_index) fetch_ids.push_back(ids[i]);
      VREPO_RETURN_IF_ERROR(impl_->source->Fetch(
          fetch_ids, [&](size_t k, std::string_view bytes) { fn(fetch_index[k], bytes); }));
      std::erase_if(order, [&](size_t i) { return absent[i] != 0; });
    }
  }

  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(locs[a].pack, locs[a].offset) < std::tie(locs[b].pack, locs[b].offset);
  });
  const size_t present = order.size();
  const size_t read_blocks = (present + kReadBlock - 1) / kReadBlock;
  std::vector<Status> read_errors(read_blocks);
  VREPO_RETURN_IF_ERROR(pool.ParallelFor(read_blocks, [&](size_t b) {
    const size_t begin = b * kReadBlock, end = std::min(present, begin + kReadBlock);
    std::string& scratch = ThreadScratch();
    for (size_t k = begin; k < end; ++k) {
      const size_t i = order[k];
      if (locs[i].codec == ObjectLocation::Codec::kChunked) {
        Result<std::string> whole = Get(ids[i]);
        if (!whole.ok()) {
          read_errors[b] = whole.status();
          return;
        }
        fn(i, *whole);
        continue;
      }
      std::shared_ptr<const MappedFile> hold;
      Result<std::string_view> bytes =
          impl_->reader->ReadPacked(ids[i], locs[i], false, &hold, &scratch);
      if (!bytes.ok()) {
        read_errors[b] = bytes.status();
        return;
      }
      fn(i, *bytes);
    }
  }));
  for (Status& st : read_errors) VREPO_RETURN_IF_ERROR(st);
  return Status::OK();
}

Result<StoredRecord> ObjectStore::ReadRecord(const ContentId& id) const {
  StoredRecord rec;
  ObjectLocation loc;
  VREPO_RETURN_IF_ERROR(impl_->reader->Locate(id, &loc, &rec.chunks));
  rec.id = id;
  rec.codec = loc.codec;
  rec.raw_size = loc.raw_size;
  if (loc.codec == ObjectLocation::Codec::kChunked) return rec;
  std::shared_ptr<const MappedFile> hold;
  RecordHeader header;
  VREPO_ASSIGN_OR_RETURN(std::string_view payload,
                         impl_->reader->CheckedPayload(id, loc, &hold, &header));
  rec.stored.assign(payload);
  return rec;
}

Status ObjectStore::WriteTo(const ContentId& id, int fd, const std::string& fd_path) const {
  const PackReader& reader = *impl_->reader;
  ObjectLocation loc;
  std::vector<ChunkRef> chunks;
  Status located = reader.Locate(id, &loc, &chunks);
  if (located.code() == Status::Code::kNotFound && impl_->source) {
    Status written;
    VREPO_RETURN_IF_ERROR(impl_->source->Fetch(
        {id}, [&](size_t, std::string_view bytes) { written = WriteAll(fd, bytes, fd_path); }));
    return written;
  }
  VREPO_RETURN_IF_ERROR(located);
  if (loc.codec == ObjectLocation::Codec::kChunked) {
    return reader.ForEachChunk(
        id, chunks, [&](std::string_view bytes) { return WriteAll(fd, bytes, fd_path); });
  }
  std::shared_ptr<const MappedFile> hold;
  std::string& scratch = ThreadScratch();
  auto bytes = reader.ReadPacked(id, loc, false, &hold, &scratch);
  Status st = bytes.ok() ? WriteAll(fd, *bytes, fd_path) : bytes.status();
  TrimScratch(scratch);
  return st;
}

Result<uint64_t> ObjectStore::PackBytes() const {
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, impl_->reader->ListPacks());
  uint64_t total = 0;
  for (uint32_t n : numbers) {
    struct stat st;
    std::string path = impl_->reader->PackPath(n);
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // removed by a concurrent gc
      return Status::FromErrno(path, errno);
    }
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

Result<uint64_t> ObjectStore::PackCount() const {
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, impl_->reader->ListPacks());
  return uint64_t{numbers.size()};
}

}  // namespace vrepo
