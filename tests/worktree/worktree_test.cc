#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "vrepo/worktree/scan.h"
#include "worktree_fixture.h"

namespace vrepo::testing {

namespace {

bool IsExecutable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IXUSR);
}

// Every regular file under `root` (outside .vrepo), relative path -> contents.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    std::string rel = std::filesystem::relative(it->path(), root).string();
    if (rel == ".vrepo") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) {
      out[rel] = ReadFileOrDie(it->path().string()) + (IsExecutable(it->path()) ? "+x" : "");
    }
  }
  return out;
}

}  // namespace

TEST_CASE("checkout reproduces every committed file byte for byte, with its exec bit") {
  RepoFixture f;
  f.Write("empty", "");
  f.Write("a/b/c/d/e/f/deep.bin", RandomBytes(10000, 1));
  f.Write("with space/na me.txt", "spaces");
  f.Write("ünïcödé/日本.png", RandomBytes(333, 2));
  f.Write("run.sh", "#!/bin/sh\necho hi\n", /*executable=*/true);
  f.Write("gone-in-b.txt", "first version");
  f.Write("big.bin", RandomBytes(5 << 20, 3));  // above the chunking threshold
  std::string a = f.CommitAll("A");
  auto snap_a = Snapshot(f.dir.path());
  CHECK(snap_a.size() == 7);

  f.Write("a/b/c/d/e/f/deep.bin", RandomBytes(10000, 4));
  std::filesystem::remove(f.Path("gone-in-b.txt"));
  f.Write("new-in-b.txt", "new");
  ::chmod(f.Path("run.sh").c_str(), 0644);
  AgeFile(f.Path("run.sh"), 10);
  std::string b = f.CommitAll("B");
  auto snap_b = Snapshot(f.dir.path());
  CHECK(snap_b != snap_a);
  CHECK(Must(Diff(*f.repo, {a, b})).size() == 4);

  f.Write("gone-in-b.txt", "re-added in C");
  std::string c = f.CommitAll("C");
  auto snap_c = Snapshot(f.dir.path());

  Must(Checkout(*f.repo, a, {}, false));
  CHECK(Snapshot(f.dir.path()) == snap_a);
  CHECK(IsExecutable(f.Path("run.sh")));
  CHECK_FALSE(Exists(f.Path("new-in-b.txt")));
  CHECK(f.Status().entries.empty());
  CHECK(Must(f.repo->history().CurrentBranch()) == std::nullopt);

  Must(Checkout(*f.repo, b, {}, false));
  CHECK(Snapshot(f.dir.path()) == snap_b);
  CHECK_FALSE(Exists(f.Path("gone-in-b.txt")));
  Must(Checkout(*f.repo, "main", {}, true));
  CHECK(Snapshot(f.dir.path()) == snap_c);
  CHECK(f.Read("gone-in-b.txt") == "re-added in C");
  CHECK(*Must(f.repo->history().CurrentBranch()) == "main");
  CHECK(f.Status().entries.empty());
}

TEST_CASE("checkout into an empty working tree restores folders removed by hand") {
  RepoFixture f;
  for (int i = 0; i < 50; ++i)
    f.Write("d" + std::to_string(i % 5) + "/f" + std::to_string(i), std::to_string(i));
  std::string a = f.CommitAll("A");
  for (int i = 0; i < 5; ++i) std::filesystem::remove_all(f.Path("d" + std::to_string(i)));
  CHECK(f.Status().entries.size() == 50);
  CheckoutOptions force;
  force.force = true;
  Must(Checkout(*f.repo, a, force, false));
  CHECK(f.Read("d3/f13") == "13");
  CHECK(f.Status().entries.empty());
}

TEST_CASE("a folder of thousands of entries is listed in path order with every file's stat") {
  // More entries than one readdir block, so that lstat runs while the folder is still being
  // read; names share their first 8 bytes, are shorter than 8, or differ only after a
  // folder's name, where a folder sorts as its name plus '/'.
  RepoFixture f;
  std::vector<std::string> expected;
  auto write = [&](const std::string& rel, size_t size) {
    WriteFile(f.Path(rel), std::string(size, 'x'));
    expected.push_back(rel);
  };
  for (int i = 0; i < 3000; ++i) write("big/samepref" + std::to_string(i * 7919 % 3001), i % 50);
  for (const char* name : {"a", "ab", "same.txt", "same0", "samepref", "z"}) {
    write("big/" + std::string(name), 3);
  }
  write("big/same/inner", 5);
  write("big/samepref_/inner", 6);
  write("big/samepref_0", 6);
  write("top", 1);
  REQUIRE(::symlink("top", f.Path("big/link").c_str()) == 0);
  std::sort(expected.begin(), expected.end());

  std::vector<ScannedFile> scan = Must(ScanTree(f.dir.path(), ""));
  std::vector<std::string> paths;
  for (const auto& s : scan) paths.push_back(s.path);
  CHECK(paths == expected);
  for (const auto& s : scan) {
    struct stat st;
    REQUIRE(::lstat(f.Path(s.path).c_str(), &st) == 0);
    CHECK(s.stat.size == uint64_t(st.st_size));
    CHECK(s.stat.ino == uint64_t(st.st_ino));
  }
  CHECK(Must(ScanTree(f.dir.path(), "big/same")).size() == 1);
}

TEST_CASE("status on an unchanged tree hashes nothing") {
  RepoFixture f;
  for (int i = 0; i < 20; ++i) f.Write("dir/f" + std::to_string(i), std::to_string(i));
  f.CommitAll("A");
  auto st = f.Status();
  CHECK(st.entries.empty());
  CHECK(st.files_hashed == 0);
  CHECK(*st.branch == "main");
  CHECK(st.head.has_value());
}

TEST_CASE("a touched file with the same bytes is not modified") {
  RepoFixture f;
  f.Write("a.txt", "same");
  f.CommitAll("A");
  AgeFile(f.Path("a.txt"), 5);  // new mtime, same bytes
  auto st = f.Status();
  CHECK(st.entries.empty());
  CHECK(st.files_hashed == 1);
}

TEST_CASE("a same-size rewrite inside the index's clock tick is still seen (racy git)") {
  RepoFixture f;
  WriteFile(f.Path("a.txt"), "aaaa");
  Must(Add(*f.repo, {"a.txt"}).status());
  WriteFile(f.Path("a.txt"), "bbbb");  // likely the same mtime tick as the add
  auto st = f.Status();
  CHECK(RepoFixture::Lines(st) == "AM a.txt\n");
}

TEST_CASE("status reports staged and unstaged changes and untracked files") {
  RepoFixture f;
  f.Write("keep.txt", "k");
  f.Write("mod.txt", "m1");
  f.Write("del.txt", "d");
  f.Write("staged-mod.txt", "s1");
  f.Write("staged-del.txt", "sd");
  f.Write("exec.sh", "x");
  f.CommitAll("A");

  f.Write("mod.txt", "m2 longer");
  std::filesystem::remove(f.Path("del.txt"));
  f.Write("staged-mod.txt", "s2");
  Must(Add(*f.repo, {"staged-mod.txt"}).status());
  std::filesystem::remove(f.Path("staged-del.txt"));
  Must(Add(*f.repo, {"staged-del.txt"}).status());
  f.Write("new-staged.txt", "n");
  Must(Add(*f.repo, {"new-staged.txt"}).status());
  f.Write("untracked/u.txt", "u");
  ::chmod(f.Path("exec.sh").c_str(), 0755);
  AgeFile(f.Path("exec.sh"), 10);
  CHECK(RepoFixture::Lines(f.Status()) ==
        " D del.txt\n"
        " M exec.sh\n"
        " M mod.txt\n"
        "A  new-staged.txt\n"
        "D  staged-del.txt\n"
        "M  staged-mod.txt\n"
        " ? untracked/u.txt\n");
  auto diff = Must(Diff(*f.repo, {}));
  REQUIRE(diff.size() == 3);
  CHECK(diff[0].path == "del.txt");
  CHECK(diff[0].kind == ChangeKind::kDeleted);
  CHECK(diff[2].path == "mod.txt");
  CHECK(diff[2].new_size == 9);
  CHECK(diff[2].new_id.has_value());
  auto vs_head = Must(Diff(*f.repo, {"HEAD"}));
  CHECK(vs_head.size() == 6);  // the three above plus the three staged changes
}

TEST_CASE("add stages removals, skips unchanged files, and rejects unknown paths") {
  RepoFixture f;
  f.Write("a/1", "1");
  f.Write("a/2", "2");
  f.Write("b", "b");
  auto first = Must(Add(*f.repo, {"a", "b"}));
  CHECK(first.files_added == 3);
  CHECK(first.bytes_read == 3);
  auto again = Must(Add(*f.repo, {""}));
  CHECK(again.files_added == 0);
  CHECK(again.bytes_read == 0);
  std::filesystem::remove(f.Path("a/1"));
  auto removed = Must(Add(*f.repo, {"a/1"}));
  CHECK(removed.files_removed == 1);
  auto bad = Add(*f.repo, {"nope"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "pathspec 'nope' did not match any files");
  Must(Commit(*f.repo, "x"));
  auto nothing = Commit(*f.repo, "y");
  CHECK(nothing.status().code() == Status::Code::kInvalidArgument);
  CHECK(nothing.status().message().find("nothing to commit") == 0);
  CHECK(Must(Commit(*f.repo, "empty", /*allow_empty=*/true)).files == 2);
}

TEST_CASE("commit reports the branch and root commit and builds history") {
  RepoFixture f;
  f.Write("x", "1");
  Must(Add(*f.repo, {"x"}).status());
  auto c1 = Must(Commit(*f.repo, "first\n\nbody"));
  CHECK(c1.root_commit);
  CHECK(*c1.branch == "main");
  CHECK(c1.files == 1);
  f.Write("x", "2");
  Must(Add(*f.repo, {"x"}).status());
  auto c2 = Must(Commit(*f.repo, "second"));
  CHECK_FALSE(c2.root_commit);
  auto info = Must(f.repo->history().GetCommit(c2.commit));
  REQUIRE(info.parents.size() == 1);
  CHECK(info.parents[0] == c1.commit);
}

TEST_CASE("rm refuses uncommitted changes unless forced, and --cached keeps the file") {
  RepoFixture f;
  f.Write("a.txt", "a");
  f.Write("dir/b.txt", "b");
  f.Write("dir/c.txt", "c");
  f.CommitAll("A");
  f.Write("a.txt", "changed!");
  auto refused = Remove(*f.repo, {"a.txt"}, false, false);
  CHECK(refused.code() == Status::Code::kConflict);
  CHECK(refused.message().find("'a.txt' has local modifications") == 0);
  CHECK(Exists(f.Path("a.txt")));
  Must(Remove(*f.repo, {"a.txt"}, false, true));
  CHECK_FALSE(Exists(f.Path("a.txt")));

  Must(Remove(*f.repo, {"dir/b.txt"}, true, false));
  CHECK(Exists(f.Path("dir/b.txt")));
  Must(Remove(*f.repo, {"dir"}, false, false));
  CHECK_FALSE(Exists(f.Path("dir/c.txt")));
  CHECK(Exists(f.Path("dir/b.txt")));  // untracked now, so rm left it
  CHECK(RepoFixture::Lines(f.Status()) ==
        "D  a.txt\n"
        "D? dir/b.txt\n"
        "D  dir/c.txt\n");
  CHECK(Remove(*f.repo, {"nope"}, false, false).code() == Status::Code::kNotFound);
}

TEST_CASE("mv renames files and folders on disk and in the index") {
  RepoFixture f;
  f.Write("a.txt", "a");
  f.Write("dir/x/1", "1");
  f.Write("dir/2", "2");
  f.CommitAll("A");
  Must(Move(*f.repo, "a.txt", "b.txt"));
  CHECK(f.Read("b.txt") == "a");
  Must(Move(*f.repo, "dir", "moved/inner"));
  CHECK(f.Read("moved/inner/x/1") == "1");
  CHECK_FALSE(Exists(f.Path("dir")));
  std::filesystem::create_directories(f.Path("target"));
  Must(Move(*f.repo, "b.txt", "target"));
  CHECK(f.Read("target/b.txt") == "a");
  auto st = f.Status();
  CHECK(RepoFixture::Lines(st) ==
        "D  a.txt\n"
        "D  dir/2\n"
        "D  dir/x/1\n"
        "A  moved/inner/2\n"
        "A  moved/inner/x/1\n"
        "A  target/b.txt\n");
  CHECK(st.files_hashed == 0);  // a rename keeps the stat cache valid
  f.Write("other", "o");
  CHECK(Move(*f.repo, "other", "x").code() == Status::Code::kNotFound);
  CHECK(Move(*f.repo, "moved", "target/b.txt").code() == Status::Code::kConflict);
}

TEST_CASE("DiffFiles merges two sorted lists") {
  auto id = [](const std::string& s) { return ContentId::Of(s); };
  std::vector<FileEntry> a = {
      {"a", id("1"), 1, false}, {"b", id("2"), 1, false}, {"c", id("3"), 1, false}};
  std::vector<FileEntry> b = {
      {"b", id("2"), 1, true}, {"c", id("3"), 1, false}, {"d", id("4"), 1, false}};
  auto d = DiffFiles(a, b);
  REQUIRE(d.size() == 3);
  CHECK(d[0].path == "a");
  CHECK(d[0].kind == ChangeKind::kDeleted);
  CHECK(d[1].path == "b");
  CHECK(d[1].kind == ChangeKind::kModified);
  CHECK(d[2].path == "d");
  CHECK(d[2].kind == ChangeKind::kAdded);
}

TEST_CASE("a bare repository refuses every operation on a working tree or staging index") {
  TempDir dir;
  WriteFile(dir / "x", "a file beside .vrepo is no working tree");
  auto repo = Must(Repository::Init(dir.path(), /*bare=*/true));
  CHECK(repo->bare());
  const std::string want = "this operation must be run in a work tree";
  std::vector<Status> refused = {
      Add(*repo, {""}).status(),
      ComputeStatus(*repo).status(),
      Commit(*repo, "m", /*allow_empty=*/true).status(),
      Switch(*repo, "other", /*create=*/true, CheckoutOptions{}),
      Checkout(*repo, "HEAD", CheckoutOptions{}, false),
      Restore(*repo, {"x"}, std::nullopt),
      Remove(*repo, {"x"}, true, false),
      Move(*repo, "x", "y"),
      Diff(*repo, {}).status(),
  };
  for (const Status& st : refused) {
    CHECK(st.code() == Status::Code::kInvalidArgument);
    CHECK(st.message() == want);
  }
  CHECK_FALSE(Must(repo->history().ReadRef("refs/heads/other")));
}

}  // namespace vrepo::testing
