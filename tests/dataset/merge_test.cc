// vrepo merge over real repositories: label tables merged by sample path, conflicts that
// stop the merge, abort, commit after resolution, fast-forward and up to date.
#include "vrepo/dataset/merge.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "testing.h"
#include "vrepo/repo/repository.h"
#include "vrepo/worktree/merge_state.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::testing {
namespace {

template <class T>
T MustOk(Result<T> r) {
  if (!r.ok()) FAIL(r.status().ToString());
  return std::move(r).value();
}

void MustOk(const Status& s) {
  if (!s.ok()) FAIL(s.ToString());
}

constexpr const char* kBaseTable =
    "path,label,annotator\n"
    "images/a.png,coat,x\n"
    "images/b.png,shirt,x\n"
    "images/c.png,bag,x\n"
    "images/d.png,boot,x\n";

// A repository with labels.csv, a few images and a binary file on main; helpers for
// branching and committing.
struct MergeRepo {
  TempDir dir;
  std::unique_ptr<Repository> repo;

  MergeRepo() {
    repo = MustOk(Repository::Init(dir.path()));
    Write("labels.csv", kBaseTable);
    for (const char* name : {"a", "b", "c", "d"}) {
      Write(std::string("images/") + name + ".png", RandomBytes(300, name[0]));
    }
    Write("model.bin", "v1");
    CommitAll("base");
  }
  void Write(const std::string& rel, const std::string& data) {
    WriteFile(dir / rel, data);
    AgeFile(dir / rel, 10);
  }
  std::string Read(const std::string& rel) const { return ReadFileOrDie(dir / rel); }
  std::string CommitAll(const std::string& message) {
    MustOk(Add(*repo, {"."}).status());
    return MustOk(Commit(*repo, message)).commit;
  }
  void SwitchTo(const std::string& branch, bool create = false) {
    MustOk(Switch(*repo, branch, create, CheckoutOptions{}));
  }
  std::string Head() { return *MustOk(repo->history().HeadCommit()); }
  Result<MergeResult> MergeIn(const std::string& rev) {
    MergeOptions options;
    return Merge(*repo, rev, options);
  }
  bool Clean() {
    StatusReport st = MustOk(ComputeStatus(*repo));
    return st.entries.empty() && !st.merge_head;
  }
};

// Replaces the line starting with `path,` in a CSV text.
std::string Relabel(std::string text, const std::string& path, const std::string& record) {
  size_t at = text.find("\n" + path + ",");
  REQUIRE(at != std::string::npos);
  size_t end = text.find('\n', at + 1);
  return text.replace(at + 1, end - at - 1, record);
}

}  // namespace

TEST_CASE("merge: two annotators relabeling different samples merge cleanly by key") {
  MergeRepo r;
  r.SwitchTo("alice", true);
  r.Write("labels.csv", Relabel(kBaseTable, "images/a.png", "images/a.png,pullover,alice"));
  std::string alice = r.CommitAll("alice relabels a");
  r.SwitchTo("main");
  r.Write("labels.csv", Relabel(kBaseTable, "images/c.png", "images/c.png,sandal,bob"));
  std::string bob = r.CommitAll("bob relabels c");

  MergeResult m = MustOk(r.MergeIn("alice"));
  CHECK(m.outcome == MergeOutcome::kMerged);
  CHECK(m.conflicts.empty());
  CHECK(m.tables_merged == std::vector<std::string>{"labels.csv"});
  const std::string want =
      "path,label,annotator\n"
      "images/a.png,pullover,alice\n"
      "images/b.png,shirt,x\n"
      "images/c.png,sandal,bob\n"
      "images/d.png,boot,x\n";
  CHECK(r.Read("labels.csv") == want);
  CommitInfo c = MustOk(r.repo->history().GetCommit(r.Head()));
  CHECK(c.id == m.commit);
  CHECK(c.parents == std::vector<std::string>{bob, alice});
  CHECK(c.message == "Merge branch 'alice'\n");
  // The merged table is stored and committed, and the working tree is clean on main.
  auto files = MustOk(r.repo->history().ReadTree(c.id));
  bool found = false;
  for (const auto& f : files) {
    if (f.path == "labels.csv") {
      found = true;
      CHECK(MustOk(r.repo->store().Get(f.id)) == want);
    }
  }
  CHECK(found);
  CHECK(*MustOk(r.repo->history().CurrentBranch()) == "main");
  CHECK(r.Clean());
}

TEST_CASE("merge: the same sample labeled differently is a conflict until resolved and committed") {
  MergeRepo r;
  r.SwitchTo("alice", true);
  std::string t = Relabel(kBaseTable, "images/a.png", "images/a.png,shirt,alice");
  t = Relabel(t, "images/d.png", "images/d.png,sneaker,alice");
  r.Write("labels.csv", t);
  std::string alice = r.CommitAll("alice");
  r.SwitchTo("main");
  r.Write("labels.csv", Relabel(kBaseTable, "images/a.png", "images/a.png,coat,bob"));
  std::string bob = r.CommitAll("bob");

  MergeResult m = MustOk(r.MergeIn("alice"));
  CHECK(m.outcome == MergeOutcome::kConflicts);
  REQUIRE(m.conflicts.size() == 1);
  CHECK(DescribeConflict(m.conflicts[0]) ==
        "CONFLICT (label): images/a.png: ours 'coat' vs theirs 'shirt' in labels.csv");
  // Nothing committed; the clean key (d) is merged on disk, the conflicted one is ours'.
  CHECK(r.Head() == bob);
  CHECK(r.Read("labels.csv") ==
        "path,label,annotator\n"
        "images/a.png,coat,bob\n"
        "images/b.png,shirt,x\n"
        "images/c.png,bag,x\n"
        "images/d.png,sneaker,alice\n");
  CHECK(Exists(r.dir / ".vrepo/MERGE_HEAD"));
  CHECK(ReadFileOrDie(r.dir / ".vrepo/MERGE_HEAD") == alice + "\n");
  CHECK(ReadFileOrDie(r.dir / ".vrepo/ORIG_HEAD") == bob + "\n");
  StatusReport st = MustOk(ComputeStatus(*r.repo));
  CHECK(st.merge_head == alice);
  CHECK(st.unmerged == std::vector<std::string>{"labels.csv"});
  // A second merge and a commit before resolution are refused.
  CHECK(r.MergeIn("alice").status().code() == Status::Code::kConflict);
  auto early = Commit(*r.repo, "too early");
  CHECK(early.status().code() == Status::Code::kConflict);
  CHECK(early.status().message().find("labels.csv") != std::string::npos);

  r.Write("labels.csv", Relabel(r.Read("labels.csv"), "images/a.png", "images/a.png,shirt,both"));
  MustOk(Add(*r.repo, {"labels.csv"}).status());
  CHECK(MustOk(ComputeStatus(*r.repo)).unmerged.empty());
  CommitResult done = MustOk(Commit(*r.repo, "resolve"));
  CommitInfo c = MustOk(r.repo->history().GetCommit(done.commit));
  CHECK(c.parents == std::vector<std::string>{bob, alice});
  CHECK_FALSE(Exists(r.dir / ".vrepo/MERGE_HEAD"));
  CHECK_FALSE(Exists(r.dir / ".vrepo/MERGE_CONFLICTS"));
  CHECK(r.Clean());
  // Merging again: alice is now part of HEAD.
  CHECK(MustOk(r.MergeIn("alice")).outcome == MergeOutcome::kUpToDate);
}

TEST_CASE("merge: --abort restores the working tree and staging index byte for byte") {
  MergeRepo r;
  r.SwitchTo("alice", true);
  r.Write("labels.csv", Relabel(kBaseTable, "images/b.png", "images/b.png,dress,alice"));
  r.Write("images/e.png", RandomBytes(200, 9));  // a new file from theirs
  r.Write("model.bin", "alice's model");
  r.CommitAll("alice");
  r.SwitchTo("main");
  r.Write("labels.csv", Relabel(kBaseTable, "images/b.png", "images/b.png,top,bob"));
  r.Write("model.bin", "bob's model");
  std::string bob = r.CommitAll("bob");
  auto before_files = MustOk(StagedFiles(*r.repo));
  std::string labels = r.Read("labels.csv"), model = r.Read("model.bin");

  MergeResult m = MustOk(r.MergeIn("alice"));
  CHECK(m.outcome == MergeOutcome::kConflicts);
  CHECK(m.conflicts.size() == 2);  // b's label and model.bin
  CHECK(Exists(r.dir / "images/e.png"));

  MustOk(AbortMerge(*r.repo));
  CHECK(r.Head() == bob);
  CHECK(r.Read("labels.csv") == labels);
  CHECK(r.Read("model.bin") == model);
  CHECK_FALSE(Exists(r.dir / "images/e.png"));
  CHECK(MustOk(StagedFiles(*r.repo)) == before_files);
  CHECK_FALSE(Exists(r.dir / ".vrepo/MERGE_HEAD"));
  CHECK_FALSE(Exists(r.dir / ".vrepo/ORIG_HEAD"));
  CHECK_FALSE(Exists(r.dir / ".vrepo/MERGE_CONFLICTS"));
  CHECK(r.Clean());
  CHECK(AbortMerge(*r.repo).code() == Status::Code::kNotFound);
}

TEST_CASE("merge: fast-forward and up to date") {
  MergeRepo r;
  std::string base = r.Head();
  r.SwitchTo("ahead", true);
  r.Write("images/e.png", RandomBytes(100, 5));
  std::string ahead = r.CommitAll("ahead");
  r.SwitchTo("main");
  CHECK_FALSE(Exists(r.dir / "images/e.png"));

  MergeResult m = MustOk(r.MergeIn("ahead"));
  CHECK(m.outcome == MergeOutcome::kFastForward);
  CHECK(m.files_changed == 1);
  CHECK(r.Head() == ahead);
  CHECK(*MustOk(r.repo->history().CurrentBranch()) == "main");
  CHECK(Exists(r.dir / "images/e.png"));
  CHECK(r.Clean());

  CHECK(MustOk(r.MergeIn("ahead")).outcome == MergeOutcome::kUpToDate);
  CHECK(MustOk(r.MergeIn(base)).outcome == MergeOutcome::kUpToDate);
  CHECK(r.Head() == ahead);
}

TEST_CASE("merge: a non-table file changed on both sides conflicts while one-sided changes merge") {
  MergeRepo r;
  r.SwitchTo("alice", true);
  r.Write("model.bin", "alice");
  r.Write("images/a.png", RandomBytes(300, 77));  // changed only here
  r.Write("notes.csv", "not,a\n\"broken");        // a .csv that does not parse
  r.CommitAll("alice");
  r.SwitchTo("main");
  r.Write("model.bin", "bob");
  r.Write("notes.csv", "something else entirely\n");
  std::string bob = r.CommitAll("bob");

  MergeResult m = MustOk(r.MergeIn("alice"));
  CHECK(m.outcome == MergeOutcome::kConflicts);
  REQUIRE(m.conflicts.size() == 2);
  CHECK(DescribeConflict(m.conflicts[0]) == "CONFLICT (content): model.bin changed on both sides");
  CHECK(m.conflicts[1].kind == "add/add");
  CHECK(m.conflicts[1].file == "notes.csv");
  CHECK(r.Read("model.bin") == "bob");  // ours stays in the working tree
  CHECK(r.Read("images/a.png") == RandomBytes(300, 77));
  CHECK(r.Head() == bob);
  StatusReport st = MustOk(ComputeStatus(*r.repo));
  CHECK(st.unmerged == std::vector<std::string>{"model.bin", "notes.csv"});
}

TEST_CASE("merge: an image moved to two different class folders is a label conflict") {
  MergeRepo r;
  r.Write("photos/coat/x.png", RandomBytes(200, 5));
  r.Write("photos/coat/y.png", RandomBytes(200, 6));
  r.Write("photos/bag/z.png", RandomBytes(200, 7));
  r.CommitAll("photos");
  r.SwitchTo("alice", true);
  MustOk(Move(*r.repo, "photos/coat/x.png", "photos/dress/x.png"));
  MustOk(Move(*r.repo, "photos/bag/z.png", "photos/sandal/z.png"));  // only alice moves z
  std::string alice = r.CommitAll("alice");
  r.SwitchTo("main");
  MustOk(Move(*r.repo, "photos/coat/x.png", "photos/shirt/x.png"));
  MustOk(Move(*r.repo, "photos/coat/y.png", "photos/shirt/y.png"));  // only bob moves y
  std::string bob = r.CommitAll("bob");

  MergeResult m = MustOk(r.MergeIn("alice"));
  CHECK(m.outcome == MergeOutcome::kConflicts);
  REQUIRE(m.conflicts.size() == 1);
  CHECK(DescribeConflict(m.conflicts[0]) ==
        "CONFLICT (label): photos/coat/x.png: ours 'shirt' vs theirs 'dress' in photos");
  // Ours' move stays, theirs' copy is not added; one-sided moves merge.
  CHECK(Exists(r.dir / "photos/shirt/x.png"));
  CHECK_FALSE(Exists(r.dir / "photos/dress/x.png"));
  CHECK_FALSE(Exists(r.dir / "photos/coat/x.png"));
  CHECK(Exists(r.dir / "photos/shirt/y.png"));
  CHECK(Exists(r.dir / "photos/sandal/z.png"));
  CHECK(MustOk(ComputeStatus(*r.repo)).unmerged == std::vector<std::string>{"photos"});
  CHECK(Commit(*r.repo, "too early").status().code() == Status::Code::kConflict);

  // Resolved with theirs' class: the move and an add of the image end the conflict.
  MustOk(Move(*r.repo, "photos/shirt/x.png", "photos/dress/x.png"));
  MustOk(Add(*r.repo, {"photos/dress/x.png"}).status());
  CHECK(MustOk(ComputeStatus(*r.repo)).unmerged.empty());
  CommitResult done = MustOk(Commit(*r.repo, "resolve"));
  CHECK(MustOk(r.repo->history().GetCommit(done.commit)).parents ==
        std::vector<std::string>{bob, alice});
  CHECK(r.Clean());
}

TEST_CASE("merge: rows added on both sides and deleted on one side and delete against modify") {
  MergeRepo r;
  r.SwitchTo("alice", true);
  std::string t = std::string(kBaseTable) + "images/f.png,bag,alice\nimages/g.png,coat,alice\n";
  t = Relabel(t, "images/b.png", "images/b.png,shirt,alice");                   // theirs modifies b
  t.erase(t.find("images/c.png"), std::string("images/c.png,bag,x\n").size());  // deletes c
  r.Write("labels.csv", t);
  r.CommitAll("alice");
  r.SwitchTo("main");
  std::string o = std::string(kBaseTable) + "images/e.png,boot,bob\nimages/g.png,coat,alice\n";
  o.erase(o.find("images/b.png"), std::string("images/b.png,shirt,x\n").size());  // deletes b
  r.Write("labels.csv", o);
  r.CommitAll("bob");

  MergeResult m = MustOk(r.MergeIn("alice"));
  CHECK(m.outcome == MergeOutcome::kConflicts);
  REQUIRE(m.conflicts.size() == 1);
  CHECK(DescribeConflict(m.conflicts[0]) ==
        "CONFLICT (label): images/b.png: ours deleted the row vs theirs 'shirt' in labels.csv");
  // c deleted (unchanged on ours), g added identically once, e then f in sides' order,
  // b left deleted as ours has it.
  CHECK(r.Read("labels.csv") ==
        "path,label,annotator\n"
        "images/a.png,coat,x\n"
        "images/d.png,boot,x\n"
        "images/e.png,boot,bob\n"
        "images/g.png,coat,alice\n"
        "images/f.png,bag,alice\n");
}

TEST_CASE("merge: unrelated histories merge with an empty base and add/add tables by key") {
  MergeRepo r;
  History& h = r.repo->history();
  // An orphan branch whose labels.csv shares one row with main's and adds another.
  std::string text = "path,label,annotator\nimages/a.png,coat,x\nimages/z.png,bag,y\n";
  std::unique_ptr<PackWriter> w = MustOk(r.repo->store().NewWriter());
  ContentId id = MustOk(w->Put(text));
  ContentId other = MustOk(w->Put("other"));
  MustOk(w->Commit(nullptr));
  std::string tree = MustOk(h.WriteTree(
      {FileEntry{"labels.csv", id, text.size(), false}, FileEntry{"other.txt", other, 5, false}}));
  std::string orphan = MustOk(h.CreateCommit(tree, {}, "orphan"));
  CHECK_FALSE(MustOk(h.MergeBase(r.Head(), orphan)).has_value());

  MergeResult m = MustOk(r.MergeIn(orphan));
  CHECK(m.outcome == MergeOutcome::kMerged);
  CHECK_FALSE(m.base.has_value());
  CHECK(r.Read("labels.csv") == std::string(kBaseTable) + "images/z.png,bag,y\n");
  CHECK(r.Read("other.txt") == "other");
  CHECK(MustOk(h.GetCommit(r.Head())).message == "Merge commit '" + orphan + "'\n");
}

TEST_CASE("merge: refuses over local changes and leaves everything as it was") {
  MergeRepo r;
  r.SwitchTo("alice", true);
  r.Write("model.bin", "alice");
  r.CommitAll("alice");
  r.SwitchTo("main");
  r.Write("labels.csv", Relabel(kBaseTable, "images/a.png", "images/a.png,bag,bob"));
  r.CommitAll("bob");
  std::string head = r.Head();
  r.Write("images/a.png", "edited, not committed");
  auto m = r.MergeIn("alice");
  CHECK(m.status().code() == Status::Code::kConflict);
  CHECK(m.status().message().find("images/a.png") != std::string::npos);
  CHECK(r.Head() == head);
  CHECK_FALSE(Exists(r.dir / ".vrepo/MERGE_HEAD"));
  CHECK(r.Read("images/a.png") == "edited, not committed");
}

TEST_CASE(
    "merge: label tables alone by JSONL key and with differing CSV headers or repeated paths") {
  TableOptions opts;
  std::string base =
      "{\"path\":\"a.png\",\"label\":\"cat\"}\n{\"path\":\"b.png\",\"label\":\"dog\"}\n";
  std::string ours =
      "{\"path\":\"a.png\",\"label\":\"lion\"}\n{\"path\":\"b.png\",\"label\":\"dog\"}\n";
  std::string theirs =
      "{\"path\":\"a.png\",\"label\":\"cat\"}\n{\"path\":\"b.png\",\"label\":\"wolf\"}\n";
  TableMergeResult j = MustOk(MergeLabelTables(base, ours, theirs, "l.jsonl", opts));
  CHECK(j.conflicts.empty());
  CHECK(j.text ==
        "{\"path\":\"a.png\",\"label\":\"lion\"}\n{\"path\":\"b.png\",\"label\":\"wolf\"}\n");

  TableMergeResult h =
      MustOk(MergeLabelTables(std::string_view("path,label\na,x\n"), "path,label,extra\na,y,1\n",
                              "path,label\na,z\n", "t.csv", opts));
  REQUIRE(h.conflicts.size() == 1);
  CHECK(h.conflicts[0].kind == "header");

  auto dup =
      MergeLabelTables(std::nullopt, "path,label\na,x\na,y\n", "path,label\na,z\n", "t.csv", opts);
  CHECK(dup.status().code() == Status::Code::kInvalidArgument);

  // Other column names, given as options.
  TableOptions cols{"file", "class"};
  TableMergeResult c =
      MustOk(MergeLabelTables(std::string_view("file,class\na,1\nb,2\n"), "file,class\na,3\nb,2\n",
                              "file,class\na,1\nb,4\n", "t.csv", cols));
  CHECK(c.conflicts.empty());
  CHECK(c.text == "file,class\na,3\nb,4\n");
}

}  // namespace vrepo::testing
