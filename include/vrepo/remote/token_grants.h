// TokenGrants: who may read or write which repositories of a `vrepo serve`, parsed from its
// tokens file (docs/remote.md): one grant a line, `TOKEN r|rw REPO-GLOB`, `#` starts a comment,
// `anonymous r GLOB` grants reads without a token. Immutable once parsed; thread-safe to read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo {

enum class Access { kNone = 0, kRead = 1, kReadWrite = 2 };

class TokenGrants {
 public:
  // Parses the text of a tokens file; `file_name` names it in errors ("FILE:LINE: problem").
  static Result<TokenGrants> Parse(std::string_view text, const std::string& file_name);
  // Reads and parses the file at `path`.
  static Result<TokenGrants> Load(const std::string& path);
  // Everyone may read every repository; nobody may write (a server without a tokens file).
  static TokenGrants ReadOnlyForAll();

  // The strongest right any grant for `token` gives on `repo` ("" = no token: the anonymous
  // grants). Globs are fnmatch patterns in which `*` also matches '/'.
  Access AccessFor(std::string_view token, const std::string& repo) const;
  // Whether `token` appears in any grant (an unknown token is refused with 401, a known one
  // without the right with 403).
  bool Knows(std::string_view token) const;
  size_t size() const { return grants_.size(); }

 private:
  struct Grant {
    std::string token;  // "" = anonymous
    Access access = Access::kNone;
    std::string glob;
  };
  std::vector<Grant> grants_;
};

}  // namespace vrepo
