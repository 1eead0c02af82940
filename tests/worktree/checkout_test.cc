#include <filesystem>

#include "worktree_fixture.h"

namespace vrepo::testing {

TEST_CASE("checkout refuses to overwrite a modified file unless forced") {
  RepoFixture f;
  f.Write("a.txt", "v1");
  std::string a = f.CommitAll("A");
  f.Write("a.txt", "v2");
  f.CommitAll("B");
  f.Write("a.txt", "local edit");
  auto refused = Checkout(*f.repo, a, {}, false);
  CHECK(refused.code() == Status::Code::kConflict);
  CHECK(refused.message() ==
        "your local changes to 'a.txt' would be overwritten by checkout "
        "[commit them, or use --force]");
  CHECK(f.Read("a.txt") == "local edit");
  CheckoutOptions force;
  force.force = true;
  Must(Checkout(*f.repo, a, force, false));
  CHECK(f.Read("a.txt") == "v1");
  CHECK(f.Status().entries.empty());
}

TEST_CASE("checkout refuses to overwrite an untracked file") {
  RepoFixture f;
  f.Write("base", "b");
  std::string a = f.CommitAll("A");
  f.Write("later.txt", "committed");
  f.CommitAll("B");
  Must(Checkout(*f.repo, a, {}, false));
  CHECK_FALSE(Exists(f.Path("later.txt")));
  f.Write("later.txt", "mine, untracked");
  f.Write("unrelated.txt", "also mine");
  auto refused = Checkout(*f.repo, "main", {}, true);
  CHECK(refused.code() == Status::Code::kConflict);
  CHECK(refused.message().find("'later.txt'") != std::string::npos);
  std::filesystem::remove(f.Path("later.txt"));
  Must(Checkout(*f.repo, "main", {}, true));
  CHECK(f.Read("later.txt") == "committed");
  CHECK(f.Read("unrelated.txt") == "also mine");  // untracked files are left alone
}

TEST_CASE("switch creates and moves between branches") {
  RepoFixture f;
  f.Write("a", "main");
  f.CommitAll("A");
  Must(Switch(*f.repo, "feature", /*create=*/true, {}));
  CHECK(*Must(f.repo->history().CurrentBranch()) == "feature");
  f.Write("a", "feature version");
  f.Write("only-feature", "f");
  f.CommitAll("F");
  Must(Switch(*f.repo, "main", false, {}));
  CHECK(f.Read("a") == "main");
  CHECK_FALSE(Exists(f.Path("only-feature")));
  Must(Switch(*f.repo, "feature", false, {}));
  CHECK(f.Read("only-feature") == "f");
  CHECK(Switch(*f.repo, "nope", false, {}).code() == Status::Code::kNotFound);
}

TEST_CASE("a file replaced by a folder of the same name checks out both ways") {
  RepoFixture f;
  f.Write("x", "file");
  std::string a = f.CommitAll("A");
  Must(Remove(*f.repo, {"x"}, false, false));
  f.Write("x/inside", "in folder");
  std::string b = f.CommitAll("B");
  Must(Checkout(*f.repo, a, {}, false));
  CHECK(f.Read("x") == "file");
  Must(Checkout(*f.repo, b, {}, false));
  CHECK(f.Read("x/inside") == "in folder");
}

TEST_CASE("restore brings back files from the index or from a revision") {
  RepoFixture f;
  f.Write("a.txt", "v1");
  f.Write("dir/b.txt", "b1");
  std::string a = f.CommitAll("A");
  f.Write("a.txt", "v2");
  std::filesystem::remove(f.Path("dir/b.txt"));
  Must(Restore(*f.repo, {"a.txt", "dir"}, std::nullopt));
  CHECK(f.Read("a.txt") == "v1");
  CHECK(f.Read("dir/b.txt") == "b1");
  CHECK(f.Status().entries.empty());

  f.Write("a.txt", "v3");
  f.Write("dir/new.txt", "n");
  f.CommitAll("B");
  Must(Restore(*f.repo, {""}, a));
  CHECK(f.Read("a.txt") == "v1");
  CHECK_FALSE(Exists(f.Path("dir/new.txt")));
  CHECK(RepoFixture::Lines(f.Status()) == "M  a.txt\nD  dir/new.txt\n");
  CHECK(Restore(*f.repo, {"nope"}, std::nullopt).code() == Status::Code::kNotFound);
}

}  // namespace vrepo::testing

namespace vrepo::testing {

// Flips one byte in the middle of `content` where a pack file of the repository stores it raw.
void DamageStoredCopy(const RepoFixture& f, const std::string& content) {
  for (const std::string& name : ListFolder(f.Path(".vrepo/objects/packs"))) {
    const std::string& path = name;  // ListFolder gives full paths
    std::string pack = ReadFileOrDie(path);
    size_t at = pack.find(content);
    if (at == std::string::npos) continue;
    pack[at + content.size() / 2] ^= 0x55;
    WriteFile(path, pack);
    return;
  }
  FAIL("content not found raw in any pack");
}

TEST_CASE("a checkout that fails part-way leaves the work tree as it was") {
  RepoFixture f;
  f.Write("a.txt", "a1");
  f.Write("b.txt", "b1");
  f.Write("gone.txt", "only in A");
  std::string a = f.CommitAll("A");
  f.Write("a.txt", "a2");
  f.Write("b.txt", "b2");
  Must(Remove(*f.repo, {"gone.txt"}, false, false));
  std::string big = RandomBytes(200 << 10, 3);  // random: stored raw
  f.Write("new/big.bin", big);
  std::string b = f.CommitAll("B");
  Must(Checkout(*f.repo, a, {}, false));
  DamageStoredCopy(f, big);

  Status failed = Checkout(*f.repo, b, {}, false);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.message().find("the work tree is as it was") != std::string::npos);
  CHECK(f.Read("a.txt") == "a1");
  CHECK(f.Read("b.txt") == "b1");
  CHECK(f.Read("gone.txt") == "only in A");
  CHECK_FALSE(Exists(f.Path("new/big.bin")));
  CHECK_FALSE(Exists(f.Path("new")));
  CHECK(f.Status().entries.empty());
  CHECK(Must(f.repo->history().HeadCommit()) == a);
}

TEST_CASE(
    "checkout refuses before any change when an object is missing or not its pointer's size") {
  RepoFixture f;
  f.Write("a.txt", "a1");
  std::string a = f.CommitAll("A");
  f.Write("a.txt", "a2");
  std::string b = f.CommitAll("B");
  Must(Checkout(*f.repo, a, {}, false));
  // A tree whose pointer claims a size the stored object does not have.
  FileEntry lie{"a.txt", ContentId::Of("a2"), 1000, false};
  std::string tree = Must(f.repo->history().WriteTree({lie}));
  Status refused = CheckoutFiles(*f.repo, {lie}, tree, {});
  CHECK(refused.code() == Status::Code::kCorruption);
  CHECK(refused.message() ==
        "object " + lie.id.Hex() + " of 'a.txt' holds 2 bytes, but its pointer says 1000");
  FileEntry missing{"a.txt", ContentId::Of("never stored"), 12, false};
  refused = CheckoutFiles(*f.repo, {missing}, tree, {});
  CHECK(refused.code() == Status::Code::kNotFound);
  CHECK(f.Read("a.txt") == "a1");
  CHECK(f.Status().entries.empty());
}

}  // namespace vrepo::testing
