#include "vrepo/remote/token_grants.h"

#include <fnmatch.h>
#include <openssl/crypto.h>

#include <sstream>

#include "vrepo/util/file.h"
#include "vrepo/util/text.h"

namespace vrepo {
namespace {

constexpr std::string_view kAnonymous = "anonymous";

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

bool IsGlobChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == '*' || c == '?' || c == '[' || c == ']' ||
         c == '!';
}

// Compares without an early exit, so response times do not reveal how much of a token matched.
bool SameToken(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Result<TokenGrants> TokenGrants::Parse(std::string_view text, const std::string& file_name) {
  TokenGrants grants;
  size_t line_no = 0;
  for (std::string_view line : SplitLines(text)) {
    ++line_no;
    auto fail = [&](const std::string& problem) {
      std::string message = file_name;
      message += ":" + std::to_string(line_no) + ": " + problem;
      return Status::InvalidArgument(message);
    };
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    for (char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        return fail("control character in line (a binary file?)");
      }
    }
    std::vector<std::string_view> fields = SplitFields(line);
    if (fields.empty()) continue;
    if (fields.size() != 3) {
      return fail("expected `TOKEN r|rw REPO-GLOB`, got " + std::to_string(fields.size()) +
                  (fields.size() == 1 ? " field" : " fields"));
    }
    Grant grant;
    grant.token = std::string(fields[0] == kAnonymous ? "" : fields[0]);
    if (fields[1] == "r") {
      grant.access = Access::kRead;
    } else if (fields[1] == "rw") {
      grant.access = Access::kReadWrite;
    } else {
      return fail("unknown right '" + std::string(fields[1]) + "' (use r or rw)");
    }
    if (grant.token.empty() && grant.access != Access::kRead) {
      return fail("anonymous grants are read-only (writes always need a token)");
    }
    grant.glob = std::string(fields[2]);
    for (char c : grant.glob) {
      if (!IsGlobChar(c)) {
        return fail("repository glob '" + grant.glob + "' holds '" + std::string(1, c) +
                    "' (names are [A-Za-z0-9._-] segments; globs add * ? [ ] !)");
      }
    }
    grants.grants_.push_back(std::move(grant));
  }
  return grants;
}

Result<TokenGrants> TokenGrants::Load(const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return Parse(text, path);
}

TokenGrants TokenGrants::ReadOnlyForAll() {
  TokenGrants grants;
  grants.grants_.push_back(Grant{"", Access::kRead, "*"});
  return grants;
}

Access TokenGrants::AccessFor(std::string_view token, const std::string& repo) const {
  Access best = Access::kNone;
  for (const Grant& g : grants_) {
    if (!SameToken(g.token, token)) continue;
    if (::fnmatch(g.glob.c_str(), repo.c_str(), 0) != 0) continue;
    if (g.access > best) best = g.access;
  }
  // A token's holder may also do what anyone may do.
  if (!token.empty()) {
    Access anonymous = AccessFor("", repo);
    if (anonymous > best) best = anonymous;
  }
  return best;
}

bool TokenGrants::Knows(std::string_view token) const {
  bool known = false;
  for (const Grant& g : grants_) known |= SameToken(g.token, token);
  return known;
}

}  // namespace vrepo
