#include <filesystem>

#include "worktree_fixture.h"

namespace vrepo::testing {

TEST_CASE("fsck is clean on a normal repository") {
  RepoFixture f;
  f.Write("a", "a");
  f.Write("big", RandomBytes(5 << 20, 7));
  f.CommitAll("A");
  f.Write("a", "b");
  f.CommitAll("B");
  auto report = Must(Fsck(*f.repo));
  CHECK(report.problems.empty());
  CHECK(report.objects_checked >= 2);
}

TEST_CASE("fsck reports a pointer whose size is not its object's") {
  RepoFixture f;
  f.Write("a", "four");
  f.CommitAll("A");
  // A commit whose pointer claims 1 GiB for a 4-byte object, as a crafted clone would hold.
  FileEntry lie{"a", ContentId::Of("four"), 1ull << 30, false};
  History& h = f.repo->history();
  std::string tree = Must(h.WriteTree({lie}));
  std::string commit = Must(h.CreateCommit(tree, {}, "lie"));
  Must(h.CreateBranch("lie", commit, false));
  auto report = Must(Fsck(*f.repo));
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems[0] == "object " + lie.id.Hex() +
                                  " for path 'a': its pointer says 1073741824 bytes, the object "
                                  "holds 4");
}

TEST_CASE("gc drops content only a deleted branch reached and keeps the rest checkout-able") {
  RepoFixture f;
  f.Write("shared.txt", "kept");
  std::string base = f.CommitAll("base");
  Must(Switch(*f.repo, "doomed", true, {}));
  f.Write("doomed.bin", RandomBytes(200000, 9));
  f.CommitAll("doomed work");
  Must(Switch(*f.repo, "main", false, {}));
  Must(f.repo->history().DeleteBranch("doomed"));

  auto gc = Must(Gc(*f.repo));
  CHECK(gc.objects_dropped == 1);
  CHECK(gc.bytes_after < gc.bytes_before);
  CHECK(gc.bytes_before - gc.bytes_after >= 150000);
  CHECK(Must(Fsck(*f.repo)).problems.empty());

  std::filesystem::remove(f.Path("shared.txt"));
  CheckoutOptions force;
  force.force = true;
  Must(Checkout(*f.repo, base, force, false));
  CHECK(f.Read("shared.txt") == "kept");
}

TEST_CASE("gc keeps staged but uncommitted content") {
  RepoFixture f;
  f.Write("a", "committed");
  f.CommitAll("A");
  f.Write("b", "staged only");
  Must(Add(*f.repo, {"b"}).status());
  CHECK(Must(Gc(*f.repo)).objects_dropped == 0);
  std::filesystem::remove(f.Path("b"));
  Must(Restore(*f.repo, {"b"}, std::nullopt));
  CHECK(f.Read("b") == "staged only");
}

}  // namespace vrepo::testing
