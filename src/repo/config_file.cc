#include "vrepo/repo/config_file.h"

// repo/ sits directly above history/ and is the only other layer that may use libgit2, so it
// shares history's private handles, library setup and error mapping instead of keeping a
// second copy (a copy here once skipped the fsync setting of EnsureLibgit2).
#include "../history/git_handles.h"

namespace vrepo {

using history_internal::EnsureLibgit2;
using history_internal::GitError;
using history_internal::GitPtr;

struct ConfigFile::Impl {
  std::string path;
  GitPtr<git_config> config;
};

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;
ConfigFile::~ConfigFile() = default;

const std::string& ConfigFile::path() const { return impl_->path; }

Result<ConfigFile> ConfigFile::Open(const std::string& path) {
  EnsureLibgit2();
  git_config* raw = nullptr;
  int err = git_config_open_ondisk(&raw, path.c_str());
  if (err < 0) return GitError(err, "reading " + path);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->config.reset(raw);
  return ConfigFile(std::move(impl));
}

Result<std::optional<std::string>> ConfigFile::GetString(const std::string& key) const {
  git_buf buf = GIT_BUF_INIT;
  int err = git_config_get_string_buf(&buf, impl_->config.get(), key.c_str());
  std::string value = err == 0 ? std::string(buf.ptr, buf.size) : std::string();
  git_buf_dispose(&buf);
  if (err == GIT_ENOTFOUND) return std::optional<std::string>();
  if (err < 0) return GitError(err, "reading " + key + " in " + impl_->path);
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<bool>> ConfigFile::GetBool(const std::string& key) const {
  int value = 0;
  int err = git_config_get_bool(&value, impl_->config.get(), key.c_str());
  if (err == GIT_ENOTFOUND) return std::optional<bool>();
  if (err < 0) return GitError(err, "reading " + key + " in " + impl_->path);
  return std::optional<bool>(value != 0);
}

Result<std::optional<int32_t>> ConfigFile::GetInt(const std::string& key) const {
  int32_t value = 0;
  int err = git_config_get_int32(&value, impl_->config.get(), key.c_str());
  if (err == GIT_ENOTFOUND) return std::optional<int32_t>();
  if (err < 0) return GitError(err, "reading " + key + " in " + impl_->path);
  return std::optional<int32_t>(value);
}

Status ConfigFile::SetString(const std::string& key, const std::string& value) {
  int err = git_config_set_string(impl_->config.get(), key.c_str(), value.c_str());
  if (err < 0) return GitError(err, "writing " + key + " to " + impl_->path);
  return Status::OK();
}

Status ConfigFile::SetBool(const std::string& key, bool value) {
  int err = git_config_set_bool(impl_->config.get(), key.c_str(), value ? 1 : 0);
  if (err < 0) return GitError(err, "writing " + key + " to " + impl_->path);
  return Status::OK();
}

Status ConfigFile::SetInt(const std::string& key, int32_t value) {
  int err = git_config_set_int32(impl_->config.get(), key.c_str(), value);
  if (err < 0) return GitError(err, "writing " + key + " to " + impl_->path);
  return Status::OK();
}

Status ConfigFile::ForEach(
    const std::string& pattern,
    const std::function<void(const std::string& name, const std::string& value)>& fn) const {
  git_config_iterator* raw = nullptr;
  int err = pattern.empty()
                ? git_config_iterator_new(&raw, impl_->config.get())
                : git_config_iterator_glob_new(&raw, impl_->config.get(), pattern.c_str());
  if (err < 0) return GitError(err, "reading " + impl_->path);
  GitPtr<git_config_iterator> it(raw);
  git_config_entry* entry = nullptr;
  while ((err = git_config_next(&entry, it.get())) == 0) {
    fn(entry->name, entry->value != nullptr ? entry->value : "");
  }
  if (err != GIT_ITEROVER) return GitError(err, "reading " + impl_->path);
  return Status::OK();
}

Status ConfigFile::Delete(const std::string& key) {
  int err = git_config_delete_entry(impl_->config.get(), key.c_str());
  if (err < 0) return GitError(err, "removing " + key + " from " + impl_->path);
  return Status::OK();
}

}  // namespace vrepo
