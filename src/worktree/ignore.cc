#include "vrepo/worktree/ignore.h"

#include <fnmatch.h>

#include "vrepo/util/file.h"
#include "vrepo/util/text.h"

namespace vrepo {

namespace {

std::vector<std::string> SplitSlash(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      parts.emplace_back(s.substr(start));
      return parts;
    }
    parts.emplace_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// Trailing unescaped spaces are dropped, as git does: a backslash escapes the character after
// it: a pattern ending in backslash-space keeps that space, one ending in two backslashes
// and a space does not.
std::string_view TrimTrailingSpaces(std::string_view line) {
  size_t end = line.size();
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == ' ') {
      if (end == line.size()) end = i;
      continue;
    }
    if (line[i] == '\\') ++i;
    end = line.size();
  }
  return line.substr(0, end);
}

// Matches pattern components [pi..) against path components [si..); "**" spans any
// number of components (including none), every other component goes to fnmatch.
bool MatchComponents(const std::vector<std::string>& pat, size_t pi,
                     const std::vector<std::string_view>& path, size_t si) {
  while (pi < pat.size()) {
    if (pat[pi] == "**") {
      if (pi + 1 == pat.size()) return si < path.size();  // "a/**" matches what is inside a
      for (size_t k = si; k <= path.size(); ++k) {
        if (MatchComponents(pat, pi + 1, path, k)) return true;
      }
      return false;
    }
    if (si >= path.size()) return false;
    std::string comp(path[si]);
    if (::fnmatch(pat[pi].c_str(), comp.c_str(), 0) != 0) return false;
    ++pi;
    ++si;
  }
  return si == path.size();
}

}  // namespace

IgnoreFile ParseIgnoreFile(const std::string& base, std::string_view text) {
  IgnoreFile file;
  file.base = base;
  for (std::string_view line : SplitLines(text)) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = TrimTrailingSpaces(line);
    if (line.empty() || line[0] == '#') continue;
    IgnoreRule rule;
    if (line[0] == '!') {
      rule.negated = true;
      line.remove_prefix(1);
    } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '#' || line[1] == '!')) {
      line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
      rule.dir_only = true;
      while (!line.empty() && line.back() == '/') line.remove_suffix(1);
    }
    if (line.empty()) continue;
    rule.anchored = line.find('/') != std::string_view::npos;
    if (line[0] == '/') line.remove_prefix(1);
    if (line.empty()) continue;
    rule.components = SplitSlash(line);
    // "**/name" matches at any depth, the same as an unanchored "name".
    if (rule.components.size() == 2 && rule.components[0] == "**" && rule.components[1] != "**") {
      rule.components.erase(rule.components.begin());
      rule.anchored = false;
    }
    file.rules.push_back(std::move(rule));
  }
  return file;
}

Status IgnoreStack::LoadAncestors(const std::string& root, const std::string& folder) {
  files_.clear();
  if (folder.empty()) return Status::OK();  // the walk reads the root's own file
  std::string base;
  size_t pos = 0;
  while (true) {
    auto text = ReadFile(JoinPath(JoinPath(root, base), kIgnoreFileName));
    if (text.ok()) {
      files_.push_back(ParseIgnoreFile(base, *text));
    } else if (text.status().code() != Status::Code::kNotFound) {
      return text.status();
    }
    size_t slash = folder.find('/', pos);
    if (slash == std::string::npos) break;  // the next base is `folder` itself
    base = folder.substr(0, slash);
    pos = slash + 1;
  }
  return Status::OK();
}

bool IgnoreStack::IsIgnored(std::string_view path, bool is_dir) const {
  for (auto f = files_.rbegin(); f != files_.rend(); ++f) {
    std::string_view rel = path;
    if (!f->base.empty()) {
      if (rel.size() <= f->base.size() + 1 || rel.compare(0, f->base.size(), f->base) != 0 ||
          rel[f->base.size()] != '/') {
        continue;
      }
      rel.remove_prefix(f->base.size() + 1);
    }
    std::vector<std::string_view> comps;
    bool split = false;
    std::string_view name =
        rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
    for (auto r = f->rules.rbegin(); r != f->rules.rend(); ++r) {
      if (r->dir_only && !is_dir) continue;
      bool match;
      if (r->anchored) {
        if (!split) {
          size_t start = 0;
          while (true) {
            size_t slash = rel.find('/', start);
            if (slash == std::string_view::npos) {
              comps.push_back(rel.substr(start));
              break;
            }
            comps.push_back(rel.substr(start, slash - start));
            start = slash + 1;
          }
          split = true;
        }
        match = MatchComponents(r->components, 0, comps, 0);
      } else {
        std::string n(name);
        match = r->components.size() == 1 && ::fnmatch(r->components[0].c_str(), n.c_str(), 0) == 0;
      }
      if (match) return !r->negated;
    }
  }
  return false;
}

}  // namespace vrepo
