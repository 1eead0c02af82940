// The S3 transport: a repository kept as packs, pack indexes, git packs and ref objects in an
// S3 bucket (docs/remote.md, "S3 remotes"). There is no server: this client does the
// remote's side of every Transport operation. Connections made by Connect() share the
// loaded pack index and history cache; each connection belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/remote/transport.h"
#include "vrepo/util/reporter.h"

namespace vrepo {

// Opens "s3://BUCKET[/PREFIX]" with settings resolved from the environment, the AWS files
// and `options.s3`. Nothing is sent until the first operation.
Result<std::unique_ptr<Transport>> OpenS3Transport(const std::string& url,
                                                   const TransportOptions& options);

// Requests and bytes of every connection of one S3 transport so far.
struct S3TransferStats {
  uint64_t requests = 0;  // HTTP requests sent, retries included
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t parts_reused = 0;  // multipart parts an interrupted push had already uploaded
};
// The stats of `transport` when it is an S3 transport.
std::optional<S3TransferStats> S3StatsOf(const Transport& transport);

// What `vrepo fsck --remote` found on an S3 remote.
struct S3RemoteCheck {
  uint64_t packs = 0;
  uint64_t unindexed_packs = 0;  // left by interrupted pushes; never read
  uint64_t objects = 0;
  uint64_t pack_bytes = 0;
  uint64_t history_packs = 0;
  uint64_t refs = 0;
  std::vector<std::string> problems;  // one line each; empty = healthy
};
// Reads every pack and checks its SHA-256 against its name, every record against its id and
// its index entry, and that every ref's commits and every content object they name are
// there. InvalidArgument when `transport` is not an S3 transport.
Result<S3RemoteCheck> CheckS3Remote(Transport& transport, Reporter* reporter);

// The S3 pack index ("VRI1"): which objects a pack holds and where. Exposed for tests.
struct S3PackIndexEntry {
  ContentId id;
  uint64_t offset = 0;  // of the record in the pack
  uint64_t length = 0;  // of the record
  bool operator==(const S3PackIndexEntry&) const = default;
};
std::string EncodeS3PackIndex(const ContentId& pack, const std::vector<S3PackIndexEntry>& entries);
// Corruption naming `source` when `bytes` is not the index of `pack`.
Result<std::vector<S3PackIndexEntry>> DecodeS3PackIndex(std::string_view bytes,
                                                        const ContentId& pack,
                                                        const std::string& source);

}  // namespace vrepo
