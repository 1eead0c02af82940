// Fixtures for the remote tests: a source repository with committed files, and helpers that
// read a repository's refs and files.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>

#include "must.h"
#include "testing.h"
#include "vrepo/remote/service.h"
#include "vrepo/remote/sync.h"
#include "worktree/worktree_fixture.h"

namespace vrepo::testing {

// Opens the repository at `root` for writing.
inline std::unique_ptr<Repository> OpenWriter(const std::string& root) {
  OpenOptions options;
  options.wait_for_lock = true;
  return Must(Repository::Discover(root, options));
}

// The content ids that commit `rev`'s tree names.
inline std::vector<ContentId> ContentOf(Repository& repo, const std::string& rev) {
  std::vector<ContentId> ids;
  for (const FileEntry& f : Must(repo.history().ReadTree(rev))) ids.push_back(f.id);
  return ids;
}

// Forwards every call to another transport, with hooks that let a test break or delay one.
class WrappedTransport : public Transport {
 public:
  explicit WrappedTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  std::string Describe() const override { return inner_->Describe(); }
  Result<RefListing> ListRefs() override { return inner_->ListRefs(); }
  Result<std::vector<ContentId>> MissingObjects(const std::vector<ContentId>& ids) override {
    return inner_->MissingObjects(ids);
  }
  Result<std::string> ReadObjects(const std::vector<ContentId>& ids) override {
    ++reads;
    if (fail_after_reads >= 0 && reads > fail_after_reads) {
      return Status::IOError("connection lost (test)");
    }
    auto batch = inner_->ReadObjects(ids);
    if (batch.ok() && on_read_objects) on_read_objects(&*batch);
    return batch;
  }
  Result<uint64_t> WriteObjects(std::string_view batch) override {
    ++writes;
    if (fail_after_writes >= 0 && writes > fail_after_writes) {
      return Status::IOError("connection lost (test)");
    }
    return inner_->WriteObjects(batch);
  }
  Result<std::string> ReadHistory(const std::vector<std::string>& wants,
                                  const std::vector<std::string>& haves) override {
    return inner_->ReadHistory(wants, haves);
  }
  Status WriteHistory(std::string_view pack) override { return inner_->WriteHistory(pack); }
  Status UpdateRefs(const std::vector<RefUpdate>& updates) override {
    if (before_update_refs) before_update_refs();
    return inner_->UpdateRefs(updates);
  }
  // Parallel streams would bypass the hooks; the tests use one.
  Result<std::unique_ptr<Transport>> Connect() const override {
    return Status::InvalidArgument("one stream only (test)");
  }

  int fail_after_writes = -1;  // WriteObjects calls that succeed before the rest fail
  int writes = 0;
  int fail_after_reads = -1;  // ReadObjects calls that succeed before the rest fail
  int reads = 0;
  std::function<void(std::string*)> on_read_objects;
  std::function<void()> before_update_refs;

 private:
  std::unique_ptr<Transport> inner_;
};

inline std::unique_ptr<Transport> OpenPath(const std::string& path) {
  return Must(OpenTransport(path, {}));
}

}  // namespace vrepo::testing
