// Trees and packs built by hand, as an attacker would, with git's own plumbing: what
// History must refuse before anything is checked out or a ref moves (docs/security.md).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <string>

#include "testing.h"
#include "vrepo/history/history.h"

namespace vrepo {
namespace {

using testing::TempDir;

std::string RawOid(const std::string& hex) {
  std::string raw;
  for (size_t i = 0; i < 40; i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return raw;
}

struct Hostile {
  TempDir dir;
  std::string meta = dir.path() + "/meta";
  std::unique_ptr<History> history;
  std::string pointer;  // a valid pointer blob

  Hostile() {
    setenv("GIT_AUTHOR_NAME", "Mallory", 1);
    setenv("GIT_AUTHOR_EMAIL", "m@example.com", 1);
    setenv("GIT_COMMITTER_NAME", "Mallory", 1);
    setenv("GIT_COMMITTER_EMAIL", "m@example.com", 1);
    REQUIRE(History::Init(meta).ok());
    history = std::move(History::Open(meta).value());
    testing::WriteFile(dir.path() + "/ptr", PointerText(ContentId::Of("x"), 1));
    pointer = testing::Shell("git --git-dir " + meta + " hash-object -w " + dir.path() + "/ptr");
  }
  // A tree object of raw entries (mode, name, id), written with no checks at all.
  std::string Tree(const std::vector<std::array<std::string, 3>>& entries) {
    std::string raw;
    for (const auto& [mode, name, id] : entries) raw += mode + " " + name + '\0' + RawOid(id);
    testing::WriteFile(dir.path() + "/tree", raw);
    return testing::Shell("git --git-dir " + meta + " hash-object --literally -t tree -w " +
                          dir.path() + "/tree");
  }
  std::string Commit(const std::string& tree) {
    std::string c = testing::Shell("git --git-dir " + meta + " commit-tree " + tree + " -m evil");
    testing::Shell("git --git-dir " + meta + " update-ref refs/heads/evil " + c);
    return c;
  }
};

TEST_CASE("ReadTree and NewHistory refuse trees whose names escape the work tree") {
  Hostile h;
  std::string inner = h.Tree({{"100644", "victim.txt", h.pointer}});
  const std::vector<std::array<std::string, 3>> attacks[] = {
      {{"40000", "..", inner}},
      {{"100644", "../victim.txt", h.pointer}},
      {{"40000", ".vrepo", inner}},
      {{"40000", ".VREPO", inner}},
      {{"40000", ".git", inner}},
      {{"40000", "GIT~1", inner}},
      {{"100644", "a.txt", h.pointer}, {"100644", "a.txt", h.pointer}},
      {{"100644", "x", h.pointer}, {"40000", "x", inner}},
  };
  for (const auto& attack : attacks) {
    std::string tree = h.Tree(attack);
    // Nested one level down too: the check holds at every depth.
    std::string outer = h.Tree({{"40000", "data", tree}});
    for (const std::string& t : {tree, outer}) {
      std::string commit = h.Commit(t);
      INFO("entry: " << attack[0][1] << " tree " << t);
      Result<std::vector<FileEntry>> files = h.history->ReadTree(commit);
      REQUIRE_FALSE(files.ok());
      CHECK(files.status().code() == Status::Code::kCorruption);
      CHECK(files.status().message().find("tree " + tree) != std::string::npos);
      CHECK(files.status().message().find("entry ") != std::string::npos);
      // NewHistory is the connectivity check that clone, fetch and a server's push run.
      CHECK_FALSE(h.history->NewHistory({commit}, {}).ok());
      auto fsck = h.history->Fsck();
      REQUIRE(fsck.ok());
      CHECK_FALSE(fsck->empty());
    }
  }
}

TEST_CASE("ImportPack refuses deltas and objects over their bounds before indexing") {
  Hostile h;
  TempDir src;
  std::string g = "git -C " + src.path() + " ";
  testing::Shell(g + "init -q");
  // A second commit that appends to a 64 KB blob: a thin pack of it holds only a few
  // bytes of delta against the blob the receiver is supposed to have.
  std::string big = testing::RandomBytes(64 << 10, 7);
  testing::WriteFile(src.path() + "/a", big);
  std::string commit = g + "-c user.name=m -c user.email=m@e commit -qm x";
  testing::Shell(g + "add a && " + commit);
  testing::WriteFile(src.path() + "/a", big + "tail");
  testing::Shell(g + "add a && " + commit);
  std::string pack_file = src.path() + "/p.pack";
  testing::Shell("printf 'HEAD\\n^HEAD~1\\n' | " + g + "pack-objects --revs --thin --stdout > " +
                 pack_file);
  auto refused = h.history->ImportPack(testing::ReadFileOrDie(pack_file));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kCorruption);
  CHECK(refused.status().message().find("is a delta") != std::string::npos);

  // Without deltas the 64 KB blobs are still far past what a pointer blob can be.
  testing::Shell("echo HEAD | " + g + "pack-objects --revs --stdout --window=0 > " + pack_file);
  refused = h.history->ImportPack(testing::ReadFileOrDie(pack_file));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("over the limit of 1024 for a blob") != std::string::npos);
  // Nothing was indexed.
  CHECK(testing::ListFolder(h.meta + "/objects/pack").empty());

  // A pack of vrepo's own kind (pointers only) still imports.
  std::string ok_commit = h.Commit(h.Tree({{"100644", "a.txt", h.pointer}}));
  auto pack = h.history->ExportPack({ok_commit}, {});
  REQUIRE(pack.ok());
  Hostile other;
  auto imported = other.history->ImportPack(*pack);
  REQUIRE(imported.ok());
  CHECK(*imported == 3);
}

}  // namespace
}  // namespace vrepo
