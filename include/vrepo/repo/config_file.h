// ConfigFile: one git-config format file (.vrepo/config) open for reading and writing,
// through libgit2 but with none of its types here. Each write goes to disk at once (libgit2
// rewrites the file under a lock file). One ConfigFile belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vrepo/util/status.h"

namespace vrepo {

class ConfigFile {
 public:
  // Opens `path`; a missing file reads as empty and is created by the first write.
  static Result<ConfigFile> Open(const std::string& path);
  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ~ConfigFile();

  const std::string& path() const;

  // Each getter returns nullopt when `key` ("section.name" or "section.sub.name") is not
  // set, and an error when it is set but cannot be read as that type.
  Result<std::optional<std::string>> GetString(const std::string& key) const;
  Result<std::optional<bool>> GetBool(const std::string& key) const;
  Result<std::optional<int32_t>> GetInt(const std::string& key) const;

  Status SetString(const std::string& key, const std::string& value);
  Status SetBool(const std::string& key, bool value);
  Status SetInt(const std::string& key, int32_t value);

  // Calls `fn(name, value)` for every entry whose name matches the regular expression
  // `pattern` (POSIX extended, as git config --get-regexp), or for every entry when it is "".
  Status ForEach(
      const std::string& pattern,
      const std::function<void(const std::string& name, const std::string& value)>& fn) const;

  // Removes `key`; NotFound when it is not set.
  Status Delete(const std::string& key);

 private:
  struct Impl;
  explicit ConfigFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo
