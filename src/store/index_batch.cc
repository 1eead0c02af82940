#include "vrepo/store/index_batch.h"

#include <rocksdb/write_batch.h>

namespace vrepo {

namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

IndexBatch::IndexBatch() : rep_(std::make_unique<rocksdb::WriteBatch>()) {}
IndexBatch::~IndexBatch() = default;
IndexBatch::IndexBatch(IndexBatch&&) noexcept = default;
IndexBatch& IndexBatch::operator=(IndexBatch&&) noexcept = default;

void IndexBatch::Put(std::string_view key, std::string_view value) {
  rep_->Put(ToSlice(key), ToSlice(value));
}

void IndexBatch::Delete(std::string_view key) { rep_->Delete(ToSlice(key)); }

Status IndexBatch::Append(const IndexBatch& other) {
  // Replayed update by update: RocksDB's own batch append is internal API.
  struct Copier : rocksdb::WriteBatch::Handler {
    rocksdb::WriteBatch* out = nullptr;
    rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      return out->Put(k, v);
    }
    rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice& k) override { return out->Delete(k); }
  } copier;
  copier.out = rep_.get();
  rocksdb::Status s = other.rep_->Iterate(&copier);
  if (!s.ok()) return Status::IOError("copying index batch: " + s.ToString());
  return Status::OK();
}

size_t IndexBatch::Count() const { return static_cast<size_t>(rep_->Count()); }

}  // namespace vrepo
