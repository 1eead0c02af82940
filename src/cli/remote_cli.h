// Shared pieces of push, fetch, pull and clone: finding a remote's transport and printing
// ref results as git does. Single-threaded, like every command.
#pragma once

#include <memory>
#include <string>

#include "cli.h"
#include "vrepo/remote/remote_config.h"
#include "vrepo/remote/sync.h"
#include "vrepo/remote/transport.h"

namespace vrepo::cli {

struct OpenedRemote {
  std::string name;  // "" when the command named a URL or path, not a configured remote
  std::string url;
  std::unique_ptr<Transport> transport;
};
// The configured remote `name_or_url` ("origin" when empty), or, when no remote has that
// name and it looks like a path or URL, that place itself.
Result<OpenedRemote> OpenRemote(const Repository& repo, const std::string& name_or_url);

// git's " * [new branch]      main -> main" lines for `report`, one per ref, on stderr.
// `push` selects push wording; `remote_name` shortens remote-tracking refs for fetch.
void PrintRefLines(const SyncReport& report, bool push, const std::string& remote_name);
// The fields "url", "ok", "commits", "objects", "object_bytes" and "refs" (each ref's name,
// old and new commit, and status) of an open JSON object; for an S3 `transport`, also "s3":
// its requests and bytes.
void WriteReportFields(JsonWriter& json, const std::string& url, const SyncReport& report,
                       const Transport* transport = nullptr);
// {"url":..., "commits":N, "objects":N, "object_bytes":N, "refs":[...]} on stdout.
void PrintReportJson(const std::string& url, const SyncReport& report,
                     const Transport* transport = nullptr);

}  // namespace vrepo::cli
