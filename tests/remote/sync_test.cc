#include "vrepo/remote/sync.h"

#include <doctest/doctest.h>

#include "remote/remote_fixture.h"
#include "vrepo/remote/remote_config.h"
#include "vrepo/util/file.h"

namespace vrepo::testing {
namespace {

PushOptions OneStream() {
  PushOptions options;
  options.jobs = 1;
  return options;
}

RefResult Ref(const SyncReport& report, const std::string& name) {
  for (const RefResult& r : report.refs) {
    if (r.name == name) return r;
  }
  FAIL("no ref " << name << " in the report");
  return {};
}

TEST_CASE("push to an empty path, then clone: same commits, same bytes, fsck clean") {
  RepoFixture src;
  src.Write("a.txt", "alpha");
  src.Write("images/0.png", RandomBytes(20000, 2));
  src.Write("images/1.png", RandomBytes(20000, 3));
  src.Write("run.sh", "#!/bin/sh\n", /*executable=*/true);
  std::string c1 = src.CommitAll("first");
  src.Write("a.txt", "alpha 2");
  std::string c2 = src.CommitAll("second");
  TempDir dir;
  auto remote = OpenPath(dir / "team");

  SyncReport pushed = Must(Push(*src.repo, *remote, "origin", PushOptions{}));
  CHECK(pushed.ok());
  CHECK(pushed.commits == 2);
  CHECK(pushed.objects == 5);  // a.txt twice, two images, run.sh
  CHECK(Ref(pushed, "refs/heads/main").outcome == RefOutcome::kNew);
  CHECK(*Must(src.repo->history().ReadRef("refs/remotes/origin/main")) == c2);

  CloneOptions options;
  SyncReport cloned = Must(Clone(dir / "team", dir / "copy", options));
  CHECK(cloned.commits == 2);
  auto copy = OpenWriter(dir / "copy");
  CHECK(*Must(copy->history().HeadCommit()) == c2);
  CHECK(*Must(copy->history().CurrentBranch()) == "main");
  CHECK(Must(copy->history().Log(c2, 0)).size() == 2);
  for (const char* f : {"a.txt", "images/0.png", "images/1.png", "run.sh"}) {
    CHECK(ReadFileOrDie(dir / "copy/" + f) == src.Read(f));
  }
  CHECK(Must(Fsck(*copy)).problems.empty());
  CHECK(Must(GetRemote(*copy, "origin")).url == dir / "team");
  CHECK(Must(ComputeStatus(*copy)).entries.empty());
}

TEST_CASE("an incremental push sends only what the remote lacks") {
  RepoFixture src;
  for (int i = 0; i < 20; ++i) src.Write("f" + std::to_string(i), "file " + std::to_string(i));
  src.CommitAll("twenty");
  TempDir dir;
  auto remote = OpenPath(dir / "r");
  CHECK(Must(Push(*src.repo, *remote, "origin", OneStream())).objects == 20);
  src.Write("f3", "changed");
  src.Write("new", "new file");
  src.CommitAll("two more");
  SyncReport again = Must(Push(*src.repo, *remote, "origin", OneStream()));
  CHECK(again.commits == 1);
  CHECK(again.objects == 2);
  CHECK(Ref(again, "refs/heads/main").outcome == RefOutcome::kUpdated);
  SyncReport nothing = Must(Push(*src.repo, *remote, "origin", OneStream()));
  CHECK(nothing.objects == 0);
  CHECK(Ref(nothing, "refs/heads/main").outcome == RefOutcome::kUpToDate);
}

TEST_CASE("Pull: up to date, fast-forward, diverged, and a detached HEAD fetches nothing") {
  RepoFixture a;
  a.Write("x.txt", "one");
  a.CommitAll("one");
  TempDir dir;
  auto hub = OpenPath(dir / "hub");
  Must(Push(*a.repo, *hub, "origin", OneStream()).status());
  Must(Clone(dir / "hub", dir / "b", CloneOptions{}).status());
  auto b = OpenWriter(dir / "b");
  auto b_remote = OpenPath(dir / "hub");

  PullResult same = Must(Pull(*b, *b_remote, "origin", FetchOptions{}, CheckoutOptions{}));
  CHECK(same.outcome == PullOutcome::kUpToDate);
  CHECK(same.upstream == "origin/main");

  a.Write("x.txt", "two");
  std::string two = a.CommitAll("two");
  Must(Push(*a.repo, *hub, "origin", OneStream()).status());
  PullResult ff = Must(Pull(*b, *b_remote, "origin", FetchOptions{}, CheckoutOptions{}));
  CHECK(ff.outcome == PullOutcome::kFastForwarded);
  CHECK(ff.new_head == two);
  CHECK(*Must(b->history().HeadCommit()) == two);
  CHECK(ReadFileOrDie(dir / "b/x.txt") == "two");

  // Both sides commit: nothing changes in b's branch or files.
  a.Write("x.txt", "three");
  a.CommitAll("three");
  Must(Push(*a.repo, *hub, "origin", OneStream()).status());
  WriteFile(dir / "b/y.txt", "b's own");
  Must(Add(*b, {"y.txt"}).status());
  std::string own = Must(Commit(*b, "own")).commit;
  PullResult diverged = Must(Pull(*b, *b_remote, "origin", FetchOptions{}, CheckoutOptions{}));
  CHECK(diverged.outcome == PullOutcome::kDiverged);
  CHECK(*Must(b->history().HeadCommit()) == own);
  CHECK(ReadFileOrDie(dir / "b/x.txt") == "two");

  Must(Checkout(*b, own, CheckoutOptions{}, /*attach_branch=*/false));
  PullResult detached = Must(Pull(*b, *b_remote, "origin", FetchOptions{}, CheckoutOptions{}));
  CHECK(detached.outcome == PullOutcome::kDetachedHead);
  CHECK(detached.fetch.refs.empty());
}

TEST_CASE("an interrupted push resumes without resending stored batches") {
  RepoFixture src;
  // 3 MiB of random bytes each: two fit an 8 MiB batch, so four files make two batches.
  for (int i = 0; i < 4; ++i) src.Write("big" + std::to_string(i), RandomBytes(3 << 20, 10 + i));
  std::string head = src.CommitAll("big files");
  TempDir dir;
  WrappedTransport broken(OpenPath(dir / "r"));
  broken.fail_after_writes = 1;
  auto failed = Push(*src.repo, broken, "origin", OneStream());
  CHECK(failed.status().message() == "connection lost (test)");
  auto remote = OpenPath(dir / "r");
  CHECK(Must(remote->ListRefs()).refs.empty());  // the ref did not move

  SyncReport resumed = Must(Push(*src.repo, *remote, "origin", OneStream()));
  CHECK(resumed.objects == 2);  // only the batch that never arrived
  CHECK(Must(remote->ListRefs()).refs[0].target == head);
  CHECK(Must(Fsck(*OpenWriter(dir / "r"))).problems.empty());
}

TEST_CASE("an interrupted fetch resumes without receiving stored batches again") {
  RepoFixture src;
  for (int i = 0; i < 4; ++i) src.Write("big" + std::to_string(i), RandomBytes(3 << 20, 20 + i));
  std::string head = src.CommitAll("big files");
  TempDir dir;
  Must(Push(*src.repo, *OpenPath(dir / "r"), "origin", OneStream()));

  RepoFixture dest;
  FetchOptions one_stream;
  one_stream.jobs = 1;
  WrappedTransport broken(OpenPath(dir / "r"));
  broken.fail_after_reads = 1;
  auto failed = Fetch(*dest.repo, broken, "origin", one_stream);
  CHECK(failed.status().message() == "connection lost (test)");
  // Nothing names the half-fetched commit yet.
  CHECK(Must(dest.repo->history().RefsWithPrefix("refs/remotes/")).empty());

  SyncReport resumed = Must(Fetch(*dest.repo, *OpenPath(dir / "r"), "origin", one_stream));
  CHECK(resumed.objects == 2);  // only the batch that never arrived
  CHECK(Must(dest.repo->history().ResolveCommit("origin/main")) == head);
  for (const ContentId& id : ContentOf(*src.repo, head)) {
    CHECK(Must(dest.repo->store().Get(id)) == Must(src.repo->store().Get(id)));
  }
}

TEST_CASE("of two pushes racing on one branch, one wins and the other must fetch first") {
  RepoFixture a;
  a.Write("x", "base");
  a.CommitAll("base");
  TempDir dir;
  Must(Push(*a.repo, *OpenPath(dir / "r"), "origin", OneStream()).status());
  Must(Clone(dir / "r", dir / "b", CloneOptions{}).status());
  auto b = OpenWriter(dir / "b");
  a.Write("x", "from a");
  std::string from_a = a.CommitAll("a");
  WriteFile(dir / "b/x", "from b");
  AgeFile(dir / "b/x", 10);
  Must(Add(*b, {""}).status());
  std::string from_b = Must(Commit(*b, "b")).commit;

  WrappedTransport racing(OpenPath(dir / "r"));
  racing.before_update_refs = [&] {
    SyncReport won = Must(Push(*a.repo, *OpenPath(dir / "r"), "origin", OneStream()));
    CHECK(won.ok());
  };
  SyncReport lost = Must(Push(*b, racing, "origin", OneStream()));
  CHECK_FALSE(lost.ok());
  CHECK(Ref(lost, "refs/heads/main").StatusText() ==
        "rejected: refs/heads/main changed on the remote (fetch first)");
  CHECK(Must(OpenPath(dir / "r")->ListRefs()).refs[0].target == from_a);

  // Pushing again without fetching is refused before anything travels.
  SyncReport again = Must(Push(*b, *OpenPath(dir / "r"), "origin", OneStream()));
  CHECK(Ref(again, "refs/heads/main").StatusText() == "rejected: fetch first");
  CHECK(again.objects == 0);

  // After a fetch, origin/main resolves to what a pushed; merge is the user's next step.
  FetchOptions fetch;
  SyncReport fetched = Must(Fetch(*b, *OpenPath(dir / "r"), "origin", fetch));
  CHECK(fetched.commits == 1);
  CHECK(Must(b->history().ResolveCommit("origin/main")) == from_a);
  CHECK(*Must(b->history().MergeBase(from_a, from_b)) != from_a);
}

TEST_CASE("runs travel with --runs and on clone, tags with --tags") {
  RepoFixture src;
  src.Write("data.txt", "data");
  std::string data = src.CommitAll("data");
  History& h = src.repo->history();
  std::string run_tree = Must(h.WriteTree({{"run.json", ContentId::Of("{}"), 2, false}}));
  std::string run = Must(h.CreateCommit(run_tree, {data}, "run r1"));
  auto writer = Must(src.repo->store().NewWriter());
  Must(writer->Put("{}").status());
  Must(writer->Commit(nullptr));
  Must(h.CreateRef("refs/runs/r1", run));
  Must(h.CreateTag("v1", data, "", false));
  TempDir dir;
  auto remote = OpenPath(dir / "r");
  SyncReport plain = Must(Push(*src.repo, *remote, "origin", OneStream()));
  CHECK(plain.refs.size() == 1);
  PushOptions with_runs = OneStream();
  with_runs.runs = true;
  with_runs.tags = true;
  SyncReport pushed = Must(Push(*src.repo, *remote, "origin", with_runs));
  CHECK(Ref(pushed, "refs/runs/r1").outcome == RefOutcome::kNew);
  CHECK(Ref(pushed, "refs/tags/v1").outcome == RefOutcome::kNew);

  Must(Clone(dir / "r", dir / "c", CloneOptions{}).status());
  auto copy = OpenWriter(dir / "c");
  CHECK(*Must(copy->history().ReadRef("refs/runs/r1")) == run);
  CHECK(*Must(copy->history().ReadRef("refs/tags/v1")) == data);
  CHECK(Must(copy->store().Get(ContentId::Of("{}"))) == "{}");
}

TEST_CASE("a chunked big file travels as its chunks and comes back byte for byte") {
  RepoFixture src;
  std::string big = RandomBytes(9 << 20, 42);  // above the 4 MiB chunking threshold
  src.Write("model.bin", big);
  std::string head = src.CommitAll("big");
  ContentId id = ContentId::Of(big);
  REQUIRE(Must(src.repo->store().Locate(id)).codec == ObjectLocation::Codec::kChunked);
  TempDir dir;
  auto remote = OpenPath(dir / "r");
  SyncReport pushed = Must(Push(*src.repo, *remote, "origin", PushOptions{}));
  CHECK(pushed.objects > 2);  // the chunks and the chunk list
  Must(Clone(dir / "r", dir / "c", CloneOptions{}).status());
  CHECK(ReadFileOrDie(dir / "c/model.bin") == big);
  CHECK(Must(Fsck(*OpenWriter(dir / "c"))).problems.empty());
}

TEST_CASE("an altered or truncated object from the remote is rejected, naming it") {
  RepoFixture src;
  src.Write("a.txt", "genuine bytes");
  src.CommitAll("c");
  TempDir dir;
  Must(Push(*src.repo, *OpenPath(dir / "r"), "origin", OneStream()).status());
  ContentId id = ContentId::Of("genuine bytes");

  auto fetch_with = [&](std::function<void(std::string*)> tamper) {
    static int fetches = 0;
    std::string root = dir / ("f" + std::to_string(fetches++));
    Must(MakeDirs(root));
    auto repo = Must(Repository::Init(root));
    WrappedTransport remote(OpenPath(dir / "r"));
    remote.on_read_objects = std::move(tamper);
    FetchOptions options;
    options.jobs = 1;
    auto fetched = Fetch(*repo, remote, "origin", options);
    CHECK_FALSE(fetched.ok());
    CHECK_FALSE(repo->store().Contains(id));
    CHECK_FALSE(Must(repo->history().ReadRef("refs/remotes/origin/main")).has_value());
    return fetched.status().message();
  };
  std::string altered = fetch_with([](std::string* batch) { batch->back() ^= 1; });
  CHECK(altered.find("object " + id.Hex()) != std::string::npos);
  CHECK(altered.find("do not match") != std::string::npos);
  std::string truncated = fetch_with([](std::string* batch) { batch->pop_back(); });
  CHECK(truncated.find("object " + id.Hex()) != std::string::npos);
  CHECK(truncated.find("run past the end") != std::string::npos);
}

TEST_CASE("push --runs and --tags send the current branch too, not instead of it") {
  RepoFixture src;
  src.Write("data.txt", "data");
  std::string data = src.CommitAll("data");
  Must(src.repo->history().CreateTag("v1", data, "", false));
  TempDir dir;
  PushOptions runs_only = OneStream();
  runs_only.runs = true;
  SyncReport pushed = Must(Push(*src.repo, *OpenPath(dir / "r"), "origin", runs_only));
  CHECK(Ref(pushed, "refs/heads/main").outcome == RefOutcome::kNew);
  PushOptions tags = OneStream();
  tags.tags = true;
  src.Write("data.txt", "more");
  std::string more = src.CommitAll("more");
  SyncReport again = Must(Push(*src.repo, *OpenPath(dir / "r"), "origin", tags));
  CHECK(Ref(again, "refs/heads/main").outcome == RefOutcome::kUpdated);
  CHECK(Ref(again, "refs/tags/v1").outcome == RefOutcome::kNew);
  CHECK(*Must(OpenWriter(dir / "r")->history().ReadRef("refs/heads/main")) == more);
}

TEST_CASE("a push to the branch a working tree has checked out is kCheckedOut, and sends nothing") {
  RepoFixture a;
  a.Write("x", "base");
  std::string base = a.CommitAll("base");
  a.repo.reset();  // its writer lock would stall a push that got as far as writing
  TempDir dir;
  Must(Clone(a.Path(""), dir / "b", CloneOptions{}).status());
  CHECK(Must(OpenPath(a.Path(""))->ListRefs()).head_checked_out);
  auto b = OpenWriter(dir / "b");
  WriteFile(dir / "b/x", "from b");
  AgeFile(dir / "b/x", 10);
  Must(Add(*b, {""}).status());
  Must(Commit(*b, "b").status());
  PushOptions force = OneStream();
  force.force = true;  // no force gets past it, as in git
  SyncReport pushed = Must(Push(*b, *OpenPath(a.Path("")), "origin", force));
  CHECK_FALSE(pushed.ok());
  RefResult main = Ref(pushed, "refs/heads/main");
  CHECK(main.outcome == RefOutcome::kCheckedOut);
  CHECK(main.StatusText() == "rejected: branch is checked out in the remote's working tree");
  CHECK(pushed.objects == 0);
  CHECK(*Must(OpenWriter(a.Path(""))->history().ReadRef("refs/heads/main")) == base);
  CHECK(a.Read("x") == "base");

  // A bare repository has no checked-out branch: the same push goes through.
  Must(MakeDirs(dir / "hub"));
  Must(Repository::Init(dir / "hub", /*bare=*/true).status());
  CHECK_FALSE(Must(OpenPath(dir / "hub")->ListRefs()).head_checked_out);
  CHECK(Must(Push(*b, *OpenPath(dir / "hub"), "origin", OneStream())).ok());
}

}  // namespace
}  // namespace vrepo::testing
