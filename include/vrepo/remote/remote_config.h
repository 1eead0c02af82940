// Remotes as .vrepo/config records them (git-config format): remote.NAME.url,
// remote.NAME.token and remote.NAME.cafile, and for S3 remote.NAME.endpoint, .region,
// .path-style and .s3-single-writer. A token is a secret: it is never printed, and
// VREPO_TOKEN, when set, overrides the configured one. Not thread-safe (one config file).
#pragma once

#include <string>
#include <vector>

#include "vrepo/remote/transport.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"

namespace vrepo {

struct RemoteConfig {
  std::string name;
  std::string url;
  std::string token;   // "" when none is configured
  std::string cafile;  // "" when none is configured
  S3Overrides s3;      // S3 remotes: endpoint, region, path-style
  bool s3_single_writer = false;
};

// InvalidArgument unless `name` is a usable remote name ([A-Za-z0-9._-], not starting
// with '.' or '-').
Status CheckRemoteName(const std::string& name);
// Every configured remote, sorted by name.
Result<std::vector<RemoteConfig>> ListRemotes(const Repository& repo);
// NotFound "no such remote 'NAME'".
Result<RemoteConfig> GetRemote(const Repository& repo, const std::string& name);
// InvalidArgument "remote NAME already exists".
Status AddRemote(const Repository& repo, const RemoteConfig& remote);
// Removes the remote's settings (its tracking refs are the caller's to delete).
Status RemoveRemote(const Repository& repo, const std::string& name);
// The token and CA file a transport to `remote` uses: VREPO_TOKEN and VREPO_CA_FILE, when
// set, override the configured values.
TransportOptions TransportOptionsFor(const RemoteConfig& remote);
// The same, for a remote of `repo`, with the folder the transport may cache in.
TransportOptions TransportOptionsFor(const Repository& repo, const RemoteConfig& remote);
// Where a transport to remote `name` of `repo` keeps its cache (.vrepo/cache/remotes/NAME).
std::string RemoteCacheDir(const Repository& repo, const std::string& name);

}  // namespace vrepo
