// RemoteService: the Transport operations carried out on a repository of this machine. It is
// the local-path transport, and what `vrepo serve` runs for each HTTP request.
#pragma once

#include <memory>
#include <string>

#include "vrepo/remote/transport.h"
#include "vrepo/repo/repository.h"

namespace vrepo {

class RemoteService : public Transport {
 public:
  // Serves the repository at `root`, opening it for each call: read-only for reads, with the
  // writer lock (waiting for it) for writes, so concurrent callers serialize only on writes.
  // With `create_if_missing`, the first write creates a bare repository there.
  static std::unique_ptr<RemoteService> AtPath(const std::string& root, bool create_if_missing);
  // Serves an already open repository (the client's own side of a push or fetch); writes need
  // it open for writing. `repo` must outlive the service.
  static std::unique_ptr<RemoteService> Over(Repository& repo);
  ~RemoteService() override;

  std::string Describe() const override;
  Result<RefListing> ListRefs() override;
  Result<std::vector<ContentId>> MissingObjects(const std::vector<ContentId>& ids) override;
  Result<std::string> ReadObjects(const std::vector<ContentId>& ids) override;
  // The batch of the first objects of `ids`, in order, that fit in `max_bytes` (always at
  // least one): what `vrepo serve` answers, so that a reader's request never costs more.
  Result<std::string> ReadObjectsUpTo(const std::vector<ContentId>& ids, uint64_t max_bytes);
  Result<uint64_t> WriteObjects(std::string_view batch) override;
  Result<std::string> ReadHistory(const std::vector<std::string>& wants,
                                  const std::vector<std::string>& haves) override;
  Status WriteHistory(std::string_view git_pack) override;
  Status UpdateRefs(const std::vector<RefUpdate>& updates) override;
  Result<std::unique_ptr<Transport>> Connect() const override;

 private:
  struct Impl;
  explicit RemoteService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo
