#include "vrepo/remote/remote_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <optional>

#include "vrepo/repo/config_file.h"
#include "vrepo/util/file.h"

namespace vrepo {

namespace {

// A key's value, or "" when it is unset or unreadable.
std::string GetString(const ConfigFile& cfg, const std::string& key) {
  Result<std::optional<std::string>> value = cfg.GetString(key);
  return value.ok() ? value->value_or("") : "";
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

Status CheckRemoteName(const std::string& name) {
  bool ok = !name.empty() && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      ok = false;
    }
  }
  if (name.find("..") != std::string::npos) ok = false;
  if (!ok) return Status::InvalidArgument("'" + name + "' is not a valid remote name");
  return Status::OK();
}

Result<std::vector<RemoteConfig>> ListRemotes(const Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(repo.config_path()));
  std::vector<std::string> names;
  VREPO_RETURN_IF_ERROR(
      cfg.ForEach("^remote\\..*\\.url$", [&](const std::string& key, const std::string&) {
        names.push_back(key.substr(7, key.size() - 7 - 4));  // remote.NAME.url
      }));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<RemoteConfig> out;
  for (const std::string& name : names) {
    RemoteConfig r;
    r.name = name;
    r.url = GetString(cfg, "remote." + name + ".url");
    r.token = GetString(cfg, "remote." + name + ".token");
    r.cafile = GetString(cfg, "remote." + name + ".cafile");
    const std::string endpoint = GetString(cfg, "remote." + name + ".endpoint");
    const std::string region = GetString(cfg, "remote." + name + ".region");
    if (!endpoint.empty()) r.s3.endpoint = endpoint;
    if (!region.empty()) r.s3.region = region;
    auto path_style = cfg.GetBool("remote." + name + ".path-style");
    if (path_style.ok() && path_style->has_value()) r.s3.path_style = **path_style;
    auto single = cfg.GetBool("remote." + name + ".s3-single-writer");
    r.s3_single_writer = single.ok() && single->value_or(false);
    out.push_back(std::move(r));
  }
  return out;
}

Result<RemoteConfig> GetRemote(const Repository& repo, const std::string& name) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RemoteConfig> remotes, ListRemotes(repo));
  for (RemoteConfig& r : remotes) {
    if (r.name == name) return std::move(r);
  }
  return Status::NotFound("no such remote '" + name + "'");
}

Status AddRemote(const Repository& repo, const RemoteConfig& remote) {
  VREPO_RETURN_IF_ERROR(CheckRemoteName(remote.name));
  if (remote.url.empty()) return Status::InvalidArgument("remote " + remote.name + ": empty URL");
  if (GetRemote(repo, remote.name).ok()) {
    return Status::InvalidArgument("remote " + remote.name + " already exists");
  }
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(repo.config_path()));
  auto set = [&](const char* field, const std::string& value) -> Status {
    if (value.empty()) return Status::OK();
    return cfg.SetString("remote." + remote.name + "." + field, value);
  };
  if (remote.url.starts_with("s3://")) {
    S3Settings parsed;
    VREPO_RETURN_IF_ERROR(ParseS3Url(remote.url, &parsed));
  }
  VREPO_RETURN_IF_ERROR(set("url", remote.url));
  VREPO_RETURN_IF_ERROR(set("token", remote.token));
  VREPO_RETURN_IF_ERROR(set("endpoint", remote.s3.endpoint.value_or("")));
  VREPO_RETURN_IF_ERROR(set("region", remote.s3.region.value_or("")));
  if (remote.s3.path_style) {
    VREPO_RETURN_IF_ERROR(set("path-style", *remote.s3.path_style ? "true" : "false"));
  }
  if (remote.s3_single_writer) VREPO_RETURN_IF_ERROR(set("s3-single-writer", "true"));
  return set("cafile", remote.cafile);
}

Status RemoveRemote(const Repository& repo, const std::string& name) {
  VREPO_RETURN_IF_ERROR(GetRemote(repo, name).status());
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(repo.config_path()));
  // Every key of the remote's own section; a name may hold '.', so this is a prefix test
  // rather than a pattern.
  std::string prefix = "remote." + name + ".";
  std::vector<std::string> keys;
  VREPO_RETURN_IF_ERROR(cfg.ForEach("", [&](const std::string& key, const std::string&) {
    if (key.rfind(prefix, 0) == 0 && key.find('.', prefix.size()) == std::string::npos) {
      keys.push_back(key);
    }
  }));
  for (const std::string& key : keys) VREPO_RETURN_IF_ERROR(cfg.Delete(key));
  return RemoveTree(RemoteCacheDir(repo, name));
}

TransportOptions TransportOptionsFor(const RemoteConfig& remote) {
  TransportOptions options;
  options.token = remote.token;
  options.ca_file = remote.cafile;
  if (const char* token = Env("VREPO_TOKEN")) options.token = token;
  if (const char* ca = Env("VREPO_CA_FILE")) options.ca_file = ca;
  options.s3 = remote.s3;
  options.s3_single_writer = remote.s3_single_writer;
  options.remote_name = remote.name;
  return options;
}

TransportOptions TransportOptionsFor(const Repository& repo, const RemoteConfig& remote) {
  TransportOptions options = TransportOptionsFor(remote);
  if (!remote.name.empty()) options.cache_dir = RemoteCacheDir(repo, remote.name);
  return options;
}

std::string RemoteCacheDir(const Repository& repo, const std::string& name) {
  return JoinPath(repo.vrepo_dir(), "cache/remotes/" + name);
}

}  // namespace vrepo
