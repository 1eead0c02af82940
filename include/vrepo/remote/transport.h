// Transport: the operations one repository offers another during push, fetch and clone
// (docs/remote.md). RemoteService implements them on a repository on this machine; the HTTP
// transport sends each as one request to `vrepo serve`, which runs a RemoteService.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/remote/object_batch.h"
#include "vrepo/remote/s3_settings.h"
#include "vrepo/store/content_id.h"
#include "vrepo/util/status.h"

namespace vrepo {

struct RemoteRef {
  std::string name;    // full name: "refs/heads/main", "refs/tags/v1", "refs/runs/r1"
  std::string target;  // commit id (peeled for annotated tags), 40 hex digits
};

struct RefListing {
  std::vector<RemoteRef> refs;             // sorted by name
  std::optional<std::string> head_branch;  // full name of the branch HEAD points at
  // head_branch is checked out in a working tree, so a push may not move it (as git's
  // receive.denyCurrentBranch); false for a bare repository.
  bool head_checked_out = false;
};

// A compare-and-swap of one ref: applied only if the ref still points at `old_target`.
struct RefUpdate {
  std::string name;        // full name
  std::string old_target;  // "" = the ref must not exist yet
  std::string new_target;  // "" = delete the ref
  bool force = false;      // allow a branch update that is not a fast-forward
};

class Transport {
 public:
  virtual ~Transport() = default;
  // A human name for messages: the path or the URL (never a token).
  virtual std::string Describe() const = 0;

  // NotFound when there is no repository there (a push may then create one by writing).
  virtual Result<RefListing> ListRefs() = 0;
  // Of `ids`, those the repository lacks, in the order given.
  virtual Result<std::vector<ContentId>> MissingObjects(const std::vector<ContentId>& ids) = 0;
  // An object batch (docs/remote.md) holding the first objects of `ids`, in order: all of
  // them, or (from a server that caps its answers) at least one; callers ask for the rest.
  virtual Result<std::string> ReadObjects(const std::vector<ContentId>& ids) = 0;
  // Verifies every object of `batch` against its id, then stores them durably as one pack.
  // Returns how many objects were new.
  virtual Result<uint64_t> WriteObjects(std::string_view batch) = 0;
  // A git pack (version 2) with the commits reachable from `wants` and not from `haves`,
  // their trees and pointer blobs. `haves` the repository does not know are ignored.
  virtual Result<std::string> ReadHistory(const std::vector<std::string>& wants,
                                          const std::vector<std::string>& haves) = 0;
  // Verifies and stores the objects of a git pack in the repository's history.
  virtual Status WriteHistory(std::string_view git_pack) = 0;
  // Applies each update as a compare-and-swap, after checking that its new target is complete
  // (history and every content object its tree names present). Conflict
  // "rejected: REF changed on the remote (fetch first)" when an old value does not match.
  virtual Status UpdateRefs(const std::vector<RefUpdate>& updates) = 0;

  // Another connection to the same place, for a parallel stream.
  virtual Result<std::unique_ptr<Transport>> Connect() const = 0;

  // How big a batch of objects this end likes to take or give in one call. An S3 bucket
  // wants big packs (fewer objects, fewer requests); a server bounds what it buffers.
  struct BatchLimits {
    uint64_t bytes = 8 << 20;
    size_t objects = 4096;
  };
  virtual BatchLimits PreferredBatch() const { return {}; }
};

// Reads `ids` from `source` and checks the answer: an object batch of the first of them, in
// order, at least one (a server may cap its answers, docs/remote.md "Hostile peers"). The
// records view `*batch` and are not yet verified against their ids. Corruption naming the
// source otherwise.
Result<std::vector<BatchRecord>> ReadObjectPrefix(Transport& source,
                                                  const std::vector<ContentId>& ids,
                                                  std::string* batch);

// Limits of the HTTP client against a hostile or broken server (docs/remote.md, "Hostile
// peers"): a request that passes one fails with IOError naming the server and the limit.
struct TransportOptions {
  std::string token;    // bearer token for HTTP; never printed
  std::string ca_file;  // extra CA certificate for https
  int connect_timeout_s = 10;
  // From sending a request to the end of the answer's headers: a server answers when the
  // operation is done, and indexing a big history pack takes minutes.
  int answer_timeout_s = 600;
  // Inside an answer's body: the longest pause, and the time before min_rate applies.
  int stall_timeout_s = 60;
  uint64_t min_rate = 4096;                   // bytes/s an answer's body must average
  uint64_t max_listing_bytes = 64ull << 20;   // ref listings, id lists, short answers
  uint64_t max_answer_bytes = 2048ull << 20;  // object batches and history packs

  // S3 remotes (docs/remote.md, "S3 remotes"):
  S3Overrides s3;  // remote.NAME.endpoint, .region, .path-style
  // remote.NAME.s3-single-writer: move refs on a store that ignores conditional writes,
  // which is safe only while one client at a time pushes.
  bool s3_single_writer = false;
  std::string remote_name;  // for messages naming a setting; "" for a bare URL
  // Where the transport may keep what it can read again (an S3 remote's pack indexes and
  // history); "" = a temporary folder, removed when the last connection closes.
  std::string cache_dir;
};

// Opens the transport a remote URL names: a local path or file:// URL, http(s)://HOST:PORT/NAME
// or s3://BUCKET[/PREFIX].
// InvalidArgument for a URL of another scheme.
Result<std::unique_ptr<Transport>> OpenTransport(const std::string& url,
                                                 const TransportOptions& options);

}  // namespace vrepo
