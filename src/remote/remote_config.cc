#include "vrepo/remote/remote_config.h"

#include <git2.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

namespace vrepo {

namespace {

struct ConfigFree {
  void operator()(git_config* c) const { git_config_free(c); }
};
using ConfigPtr = std::unique_ptr<git_config, ConfigFree>;

std::string GitMessage() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

Result<ConfigPtr> OpenConfig(const Repository& repo) {
  git_libgit2_init();  // balanced by the process's lifetime, as elsewhere
  git_config* raw = nullptr;
  if (git_config_open_ondisk(&raw, repo.config_path().c_str()) != 0) {
    return Status::IOError("reading " + repo.config_path() + ": " + GitMessage());
  }
  return ConfigPtr(raw);
}

std::string GetString(git_config* cfg, const std::string& key) {
  git_buf buf = GIT_BUF_INIT;
  std::string out;
  if (git_config_get_string_buf(&buf, cfg, key.c_str()) == 0) out.assign(buf.ptr, buf.size);
  git_buf_dispose(&buf);
  return out;
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
  VREPO_ASSIGN_OR_RETURN(ConfigPtr cfg, OpenConfig(repo));
  std::vector<std::string> names;
  git_config_iterator* it = nullptr;
  if (git_config_iterator_glob_new(&it, cfg.get(), "^remote\\..*\\.url$") != 0) {
    return Status::IOError("reading " + repo.config_path() + ": " + GitMessage());
  }
  git_config_entry* entry = nullptr;
  while (git_config_next(&entry, it) == 0) {
    std::string key = entry->name;  // remote.NAME.url
    names.push_back(key.substr(7, key.size() - 7 - 4));
  }
  git_config_iterator_free(it);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<RemoteConfig> out;
  for (const std::string& name : names) {
    RemoteConfig r;
    r.name = name;
    r.url = GetString(cfg.get(), "remote." + name + ".url");
    r.token = GetString(cfg.get(), "remote." + name + ".token");
    r.cafile = GetString(cfg.get(), "remote." + name + ".cafile");
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
  VREPO_ASSIGN_OR_RETURN(ConfigPtr cfg, OpenConfig(repo));
  auto set = [&](const char* field, const std::string& value) -> Status {
    if (value.empty()) return Status::OK();
    std::string key = "remote." + remote.name + "." + field;
    if (git_config_set_string(cfg.get(), key.c_str(), value.c_str()) != 0) {
      return Status::IOError("writing " + key + " to " + repo.config_path() + ": " + GitMessage());
    }
    return Status::OK();
  };
  VREPO_RETURN_IF_ERROR(set("url", remote.url));
  VREPO_RETURN_IF_ERROR(set("token", remote.token));
  return set("cafile", remote.cafile);
}

Status RemoveRemote(const Repository& repo, const std::string& name) {
  VREPO_RETURN_IF_ERROR(GetRemote(repo, name).status());
  VREPO_ASSIGN_OR_RETURN(ConfigPtr cfg, OpenConfig(repo));
  std::vector<std::string> keys;
  git_config_iterator* it = nullptr;
  std::string prefix = "remote." + name + ".";
  if (git_config_iterator_new(&it, cfg.get()) != 0) {
    return Status::IOError("reading " + repo.config_path() + ": " + GitMessage());
  }
  git_config_entry* entry = nullptr;
  while (git_config_next(&entry, it) == 0) {
    std::string key = entry->name;
    if (key.rfind(prefix, 0) == 0 && key.find('.', prefix.size()) == std::string::npos) {
      keys.push_back(key);
    }
  }
  git_config_iterator_free(it);
  for (const std::string& key : keys) {
    if (git_config_delete_entry(cfg.get(), key.c_str()) != 0) {
      return Status::IOError("removing " + key + " from " + repo.config_path() + ": " +
                             GitMessage());
    }
  }
  return Status::OK();
}

TransportOptions TransportOptionsFor(const RemoteConfig& remote) {
  TransportOptions options;
  options.token = remote.token;
  options.ca_file = remote.cafile;
  if (const char* token = Env("VREPO_TOKEN")) options.token = token;
  if (const char* ca = Env("VREPO_CA_FILE")) options.ca_file = ca;
  return options;
}

}  // namespace vrepo
