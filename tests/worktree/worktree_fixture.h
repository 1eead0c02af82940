// A repository in a temporary folder for the worktree tests, with helpers that fail the
// test on error.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "must.h"
#include "testing.h"
#include "vrepo/repo/repository.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::testing {

struct RepoFixture {
  TempDir dir;
  std::unique_ptr<Repository> repo;

  RepoFixture() { repo = Must(Repository::Init(dir.path())); }
  std::string Path(const std::string& rel) const { return dir / rel; }
  // Writes a file and ages it so that the stat cache trusts it.
  void Write(const std::string& rel, const std::string& data, bool executable = false) {
    WriteFile(Path(rel), data, executable);
    AgeFile(Path(rel), 10);
  }
  std::string Read(const std::string& rel) const { return ReadFileOrDie(Path(rel)); }
  std::string CommitAll(const std::string& message) {
    Must(Add(*repo, {""}).status());
    return Must(Commit(*repo, message)).commit;
  }
  StatusReport Status() { return Must(ComputeStatus(*repo)); }
  // "M path" lines for a status report: staged kind, unstaged kind, path.
  static std::string Lines(const StatusReport& r) {
    std::string out;
    for (const auto& e : r.entries) {
      out += e.staged ? static_cast<char>(*e.staged) : ' ';
      out += e.unstaged ? static_cast<char>(*e.unstaged) : ' ';
      out += " " + e.path + "\n";
    }
    return out;
  }
};

}  // namespace vrepo::testing
