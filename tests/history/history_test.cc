#include "vrepo/history/history.h"

#include <dirent.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "testing.h"

namespace vrepo {
namespace {

using testing::TempDir;

// Runs a shell command, returning its stdout; `exit_code` gets its status.
std::string Shell(const std::string& cmd, int* exit_code = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  if (exit_code != nullptr) *exit_code = WEXITSTATUS(rc);
  return out;
}

FileEntry File(const std::string& path, const std::string& content, bool exec = false) {
  FileEntry f;
  f.path = path;
  f.id = ContentId::Of(content);
  f.size = content.size();
  f.executable = exec;
  return f;
}

// A fresh repository with a fixed identity and clock so commit ids are reproducible.
struct Fixture {
  Fixture() {
    setenv("GIT_AUTHOR_NAME", "Test Author", 1);
    setenv("GIT_AUTHOR_EMAIL", "author@example.com", 1);
    REQUIRE(History::Init(dir / "meta").ok());
    auto h = History::Open(dir / "meta");
    REQUIRE(h.ok());
    history = std::move(h.value());
  }
  // Writes `files` as a commit on top of HEAD and advances HEAD; returns the commit id.
  std::string Commit(const std::vector<FileEntry>& files, const std::string& msg) {
    auto tree = history->WriteTree(files);
    REQUIRE(tree.ok());
    auto head = history->HeadCommit();
    REQUIRE(head.ok());
    std::vector<std::string> parents;
    if (*head) parents.push_back(**head);
    auto c = history->CreateCommit(*tree, parents, msg);
    REQUIRE(c.ok());
    REQUIRE(history->AdvanceHead(*c, *head, "commit: " + msg).ok());
    return *c;
  }
  std::string Git(const std::string& args, int* rc = nullptr) {
    return Shell("git --git-dir '" + history->path() + "' " + args, rc);
  }
  TempDir dir;
  std::unique_ptr<History> history;
};

TEST_CASE("pointer text round-trips and rejects damage") {
  ContentId id = ContentId::Of("hello");
  std::string text = PointerText(id, 5);
  CHECK(text == "sha256:" + id.Hex() + " 5\n");
  ContentId parsed;
  uint64_t size = 0;
  REQUIRE(ParsePointer(text, "x", &parsed, &size).ok());
  CHECK(parsed == id);
  CHECK(size == 5);
  CHECK(ParsePointer(PointerText(id, 0), "x", &parsed, &size).ok());
  CHECK(size == 0);
  CHECK(ParsePointer(PointerText(id, UINT64_MAX), "x", &parsed, &size).ok());
  CHECK(size == UINT64_MAX);

  std::string hex = id.Hex();
  std::string upper = hex;
  upper[0] = 'A';
  for (const std::string& bad :
       {std::string(""), "sha1:" + hex + " 5\n", "sha256:" + hex + " 5", "sha256:" + hex + "  5\n",
        "sha256:" + hex + " 05\n", "sha256:" + hex + " -5\n", "sha256:" + hex + " 5\n\n",
        "sha256:" + hex.substr(1) + " 5\n", "sha256:" + upper + " 5\n",
        "sha256:" + hex + " 18446744073709551616\n", "sha256:" + hex + " \n"}) {
    Status st = ParsePointer(bad, "blob 1234 of 'a.png'", &parsed, &size);
    CHECK_MESSAGE(st.code() == Status::Code::kCorruption, bad);
    CHECK(st.message().find("blob 1234 of 'a.png'") != std::string::npos);
  }
}

TEST_CASE("init creates a bare repository that git reads") {
  Fixture fx;
  CHECK(fx.Git("rev-parse --is-bare-repository") == "true\n");
  CHECK(fx.Git("symbolic-ref HEAD") == "refs/heads/main\n");
  auto head = fx.history->HeadCommit();
  REQUIRE(head.ok());
  CHECK(!head->has_value());
  auto branch = fx.history->CurrentBranch();
  REQUIRE(branch.ok());
  CHECK(**branch == "main");
  CHECK(History::Init(fx.history->path()).code() == Status::Code::kInvalidArgument);
  CHECK(History::Open(fx.dir / "nothing").status().code() == Status::Code::kNotFound);

  std::string c = fx.Commit({File("a.txt", "A")}, "first");
  CHECK(fx.Git("log --format=%H%n%an%n%s") == c + "\nTest Author\nfirst\n");
  CHECK(fx.Git("cat-file -p HEAD:a.txt") == PointerText(ContentId::Of("A"), 1));
}

TEST_CASE("write and read trees round-trip") {
  Fixture fx;
  std::vector<FileEntry> files = {
      File("a", "1"),
      File("a.b", "2"),
      File("a-c/x", "3"),
      File("ab/deep/er/still/deeper/f.txt", "4"),
      File("with space/naïve ünïcode.png", "5"),
      File("empty", ""),
      File("run.sh", "#!/bin/sh", true),
      File("b/a", "1"),  // same content as "a": one blob
      File("B/upper", "6"),
  };
  auto tree = fx.history->WriteTree(files);
  REQUIRE(tree.ok());
  auto read = fx.history->ReadTree(*tree);
  REQUIRE(read.ok());
  std::vector<FileEntry> expected = files;
  std::sort(expected.begin(), expected.end(),
            [](const FileEntry& x, const FileEntry& y) { return x.path < y.path; });
  CHECK(*read == expected);

  // Order of input does not change the tree.
  std::vector<FileEntry> reversed(files.rbegin(), files.rend());
  auto tree2 = fx.history->WriteTree(reversed);
  REQUIRE(tree2.ok());
  CHECK(*tree2 == *tree);

  // git agrees on modes and contents.
  std::string ls = fx.Git("ls-tree -r " + *tree);
  CHECK(ls.find("100755 blob") != std::string::npos);
  CHECK(ls.find("run.sh") != std::string::npos);
  CHECK(fx.Git("cat-file -p " + *tree + ":empty") == PointerText(ContentId::Of(""), 0));
  int rc = 0;
  fx.Git("fsck --strict", &rc);
  CHECK(rc == 0);

  // The empty tree is a valid tree.
  auto empty = fx.history->WriteTree({});
  REQUIRE(empty.ok());
  CHECK(*empty == "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
  auto none = fx.history->ReadTree(*empty);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("write tree rejects bad paths") {
  Fixture fx;
  auto code = [&](std::vector<FileEntry> files) { return fx.history->WriteTree(files).status(); };
  CHECK(code({File("a", "1"), File("a", "2")}).code() == Status::Code::kInvalidArgument);
  Status both = code({File("a", "1"), File("a/b", "2")});
  CHECK(both.code() == Status::Code::kInvalidArgument);
  CHECK(both.message().find("'a'") != std::string::npos);
  for (const char* bad : {"", "/abs", "a//b", "a/", "./a", "a/../b", ".git/x", "x/.git"}) {
    CHECK_MESSAGE(code({File(bad, "1")}).code() == Status::Code::kInvalidArgument, bad);
  }
}

TEST_CASE("a large tree is written as one git pack that git accepts") {
  Fixture fx;
  std::vector<FileEntry> files;
  for (int i = 0; i < 20000; ++i) {
    files.push_back(File("class" + std::to_string(i % 50) + "/img" + std::to_string(i) + ".png",
                         std::to_string(i)));
  }
  // Two identical folders share one tree object.
  for (const char* dir : {"twin1/", "twin2/"}) {
    for (int i = 0; i < 100; ++i) files.push_back(File(dir + std::to_string(i), "twin"));
  }
  auto tree = fx.history->WriteTree(files);
  REQUIRE(tree.ok());
  std::set<std::string> suffixes;
  DIR* d = opendir((fx.history->path() + "/objects/pack").c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5) suffixes.insert(name.substr(name.rfind('.')));
  }
  closedir(d);
  CHECK(suffixes.count(".pack") == 1);
  CHECK(suffixes.count(".idx") == 1);
  auto c = fx.history->CreateCommit(*tree, {}, "big");
  REQUIRE(c.ok());
  REQUIRE(fx.history->AdvanceHead(*c, std::nullopt, "big").ok());
  int rc = 1;
  std::string out = fx.Git("fsck --full --strict", &rc);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(fx.Git("count-objects -v").find("in-pack: 20053") != std::string::npos);

  auto read = fx.history->ReadTree(*c);
  REQUIRE(read.ok());
  REQUIRE(read->size() == files.size());

  // Changing one file writes only the new blob and the trees above it, as loose objects.
  files[123].size += 1;
  auto tree2 = fx.history->WriteTree(files);
  REQUIRE(tree2.ok());
  CHECK(fx.Git("count-objects -v").find("count: 4\n") != std::string::npos);  // + commit
  auto files2 = fx.history->ReadTree(*tree2);
  REQUIRE(files2.ok());
  size_t changed = 0;
  for (size_t i = 0; i < files2->size(); ++i) changed += !((*files2)[i] == (*read)[i]);
  CHECK(changed == 1);
}

TEST_CASE("commits, log and revisions") {
  Fixture fx;
  setenv("GIT_AUTHOR_DATE", "1700000000 +0130", 1);
  std::string c1 = fx.Commit({File("a", "1")}, "one");
  setenv("GIT_AUTHOR_DATE", "1700000100 +0130", 1);
  std::string c2 = fx.Commit({File("a", "2")}, "two");
  unsetenv("GIT_AUTHOR_DATE");
  std::string c3 = fx.Commit({File("a", "3")}, "three");

  auto info = fx.history->GetCommit(c2);
  REQUIRE(info.ok());
  CHECK(info->id == c2);
  CHECK(info->parents == std::vector<std::string>{c1});
  CHECK(info->author_name == "Test Author");
  CHECK(info->author_email == "author@example.com");
  CHECK(info->time == 1700000100);
  CHECK(info->tz_offset_minutes == 90);
  CHECK(info->message == "two");

  auto log = fx.history->Log(c3, 0);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 3);
  CHECK((*log)[0].id == c3);
  CHECK((*log)[1].id == c2);
  CHECK((*log)[2].id == c1);
  auto two = fx.history->Log("HEAD", 2);
  REQUIRE(two.ok());
  CHECK(two->size() == 2);

  CHECK(*fx.history->ResolveCommit("HEAD") == c3);
  CHECK(*fx.history->ResolveCommit("HEAD~1") == c2);
  CHECK(*fx.history->ResolveCommit("main^^") == c1);
  CHECK(*fx.history->ResolveCommit(c1.substr(0, 10)) == c1);
  CHECK(*fx.history->ResolveCommit(c1) == c1);
  Status unknown = fx.history->ResolveCommit("nope").status();
  CHECK(unknown.code() == Status::Code::kNotFound);
  CHECK(unknown.message() == "unknown revision 'nope'");
  CHECK(fx.history->ResolveCommit("HEAD~9").status().code() == Status::Code::kNotFound);
  CHECK(fx.history->ResolveCommit("").status().code() == Status::Code::kInvalidArgument);
  auto tree_rev = fx.history->ResolveCommit(info->tree);
  CHECK(tree_rev.status().code() == Status::Code::kInvalidArgument);

  auto files = fx.history->ReadTree("HEAD~2");
  REQUIRE(files.ok());
  CHECK(files->at(0).id == ContentId::Of("1"));
}

TEST_CASE("advancing HEAD is a compare-and-swap") {
  Fixture fx;
  std::string c1 = fx.Commit({File("a", "1")}, "one");
  auto tree = fx.history->WriteTree({File("a", "2")});
  REQUIRE(tree.ok());
  auto c2 = fx.history->CreateCommit(*tree, {c1}, "two");
  REQUIRE(c2.ok());

  // Someone else already created the branch: expecting unborn fails.
  Status st = fx.history->AdvanceHead(*c2, std::nullopt, "x");
  CHECK(st.code() == Status::Code::kConflict);
  CHECK(st.message() == "ref refs/heads/main moved: expected unborn, found " + c1);
  // A stale expectation fails and leaves the branch alone.
  st = fx.history->AdvanceHead(*c2, *c2, "x");
  CHECK(st.code() == Status::Code::kConflict);
  CHECK(st.message() == "ref refs/heads/main moved: expected " + *c2 + ", found " + c1);
  CHECK(**fx.history->HeadCommit() == c1);
  REQUIRE(fx.history->AdvanceHead(*c2, c1, "x").ok());
  CHECK(**fx.history->HeadCommit() == *c2);

  // Detached HEAD moves itself, not the branch.
  REQUIRE(fx.history->DetachHead(c1).ok());
  CHECK(!fx.history->CurrentBranch()->has_value());
  CHECK(**fx.history->HeadCommit() == c1);
  CHECK(fx.history->AdvanceHead(*c2, *c2, "x").code() == Status::Code::kConflict);
  REQUIRE(fx.history->AdvanceHead(*c2, c1, "x").ok());
  CHECK(**fx.history->HeadCommit() == *c2);
  CHECK(*fx.history->ResolveCommit("main") == *c2);
  REQUIRE(fx.history->SetHeadToBranch("main").ok());
  CHECK(**fx.history->CurrentBranch() == "main");
}

TEST_CASE("branches and tags") {
  Fixture fx;
  // Before any commit, HEAD may point at an unborn branch of any name.
  REQUIRE(fx.history->SetHeadToBranch("trunk").ok());
  CHECK(**fx.history->CurrentBranch() == "trunk");
  REQUIRE(fx.history->SetHeadToBranch("main").ok());
  std::string c1 = fx.Commit({File("a", "1")}, "one");
  std::string c2 = fx.Commit({File("a", "2")}, "two");

  REQUIRE(fx.history->CreateBranch("dev", c1, false).ok());
  Status exists = fx.history->CreateBranch("dev", c2, false);
  CHECK(exists.code() == Status::Code::kInvalidArgument);
  CHECK(exists.message() == "branch 'dev' already exists");
  REQUIRE(fx.history->CreateBranch("dev", c2, true).ok());
  CHECK(fx.history->CreateBranch("bad..name", c2, false).code() == Status::Code::kInvalidArgument);
  CHECK(fx.history->CreateBranch("x", "nope", false).code() == Status::Code::kNotFound);
  CHECK(fx.history->SetHeadToBranch("missing").code() == Status::Code::kNotFound);

  auto branches = fx.history->Branches();
  REQUIRE(branches.ok());
  REQUIRE(branches->size() == 2);
  CHECK((*branches)[0].name == "dev");
  CHECK((*branches)[0].target == c2);
  CHECK(!(*branches)[0].current);
  CHECK((*branches)[1].name == "main");
  CHECK((*branches)[1].current);

  Status current = fx.history->DeleteBranch("main");
  CHECK(current.code() == Status::Code::kConflict);
  CHECK(current.message() == "cannot delete branch 'main' checked out");
  CHECK(fx.history->DeleteBranch("ghost").code() == Status::Code::kNotFound);
  REQUIRE(fx.history->DeleteBranch("dev").ok());
  CHECK(fx.history->Branches()->size() == 1);

  REQUIRE(fx.history->CreateTag("v1", c1, "", false).ok());
  REQUIRE(fx.history->CreateTag("v2", c2, "release two", false).ok());
  Status tag_exists = fx.history->CreateTag("v1", c2, "", false);
  CHECK(tag_exists.message() == "tag 'v1' already exists");
  auto tags = fx.history->Tags();
  REQUIRE(tags.ok());
  REQUIRE(tags->size() == 2);
  CHECK((*tags)[0].name == "v1");
  CHECK((*tags)[0].target == c1);
  CHECK((*tags)[1].name == "v2");
  CHECK((*tags)[1].target == c2);  // peeled through the annotated tag
  CHECK(fx.Git("cat-file -t v2") == "tag\n");
  CHECK(*fx.history->ResolveCommit("v2") == c2);
  REQUIRE(fx.history->DeleteTag("v1").ok());
  CHECK(fx.history->DeleteTag("v1").code() == Status::Code::kNotFound);
  CHECK(fx.history->Tags()->size() == 1);
}

TEST_CASE("reachable files cover every ref, reading each tree once") {
  Fixture fx;
  std::vector<FileEntry> base;
  for (int i = 0; i < 10; ++i)
    base.push_back(File("shared/f" + std::to_string(i), "s" + std::to_string(i)));
  std::vector<FileEntry> v1 = base;
  v1.push_back(File("main-only", "m"));
  std::string c1 = fx.Commit(v1, "one");
  // A tagged commit that no branch reaches any more.
  std::vector<FileEntry> tagged = base;
  tagged.push_back(File("tag-only", "t"));
  auto tt = fx.history->WriteTree(tagged);
  auto tc = fx.history->CreateCommit(*tt, {c1}, "tagged");
  REQUIRE(fx.history->CreateTag("old", *tc, "annotated", false).ok());
  // Another branch.
  auto dt = fx.history->WriteTree({File("dev-only", "d")});
  auto dc = fx.history->CreateCommit(*dt, {}, "dev");
  REQUIRE(fx.history->CreateBranch("dev", *dc, false).ok());
  // A run ref.
  auto rt = fx.history->WriteTree({File("run.json", "{}")});
  auto rc = fx.history->CreateCommit(*rt, {c1}, "run");
  REQUIRE(fx.Git("update-ref refs/runs/r1 " + *rc) == "");
  // An unreferenced commit is not reachable.
  auto lost = fx.history->WriteTree({File("lost", "l")});
  REQUIRE(fx.history->CreateCommit(*lost, {}, "lost").ok());

  std::map<std::string, int> seen;
  std::set<ContentId> ids;
  REQUIRE(fx.history
              ->ForEachReachableFile([&](const FileEntry& f) {
                seen[f.path]++;
                ids.insert(f.id);
              })
              .ok());
  CHECK(seen.count("main-only") == 1);
  CHECK(seen.count("tag-only") == 1);
  CHECK(seen.count("dev-only") == 1);
  CHECK(seen.count("run.json") == 1);
  CHECK(seen.count("lost") == 0);
  // The "shared" subtree is identical in two commits and is read once.
  CHECK(seen["shared/f0"] == 1);
  CHECK(ids.count(ContentId::Of("s9")) == 1);

  auto problems = fx.history->Fsck();
  REQUIRE(problems.ok());
  CHECK(problems->empty());
}

TEST_CASE("fsck names a damaged object") {
  Fixture fx;
  std::string c = fx.Commit({File("a", "1"), File("b", "2")}, "one");
  // Replace the loose blob of "a" by a valid object with other contents.
  std::string blob = fx.Git("rev-parse HEAD:a");
  blob.pop_back();
  std::string loose = fx.history->path() + "/objects/" + blob.substr(0, 2) + "/" + blob.substr(2);
  std::string other = Shell("printf 'not a pointer\\n' | git --git-dir '" + fx.history->path() +
                            "' hash-object -w --stdin");
  other.pop_back();
  std::string other_path =
      fx.history->path() + "/objects/" + other.substr(0, 2) + "/" + other.substr(2);
  REQUIRE(Shell("chmod u+w '" + loose + "' && cp '" + other_path + "' '" + loose + "'") == "");
  auto reopened = History::Open(fx.history->path());
  REQUIRE(reopened.ok());
  auto problems = (*reopened)->Fsck();
  REQUIRE(problems.ok());
  REQUIRE(problems->size() == 1);
  CHECK((*problems)[0].find(blob) != std::string::npos);
  CHECK((*reopened)->ReadTree(c).status().code() != Status::Code::kOk);
}

}  // namespace
}  // namespace vrepo
