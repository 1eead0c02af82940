// Upstreams and switching to a branch that a remote has (tracking.h).
#include "vrepo/remote/tracking.h"

#include <doctest/doctest.h>

#include "remote/remote_fixture.h"
#include "vrepo/remote/remote_config.h"

namespace vrepo::testing {
namespace {

// A repository "a" with branches main and feature, cloned into "b".
struct Cloned {
  RepoFixture a;
  std::string feature;
  std::unique_ptr<Repository> b;
  Cloned() {
    a.Write("x", "main");
    a.CommitAll("main");
    Must(Switch(*a.repo, "feature", true, CheckoutOptions{}));
    a.Write("x", "feature");
    feature = a.CommitAll("feature");
    Must(Switch(*a.repo, "main", false, CheckoutOptions{}));
    a.repo.reset();
    Must(Clone(a.Path(""), a.dir / "b", CloneOptions{}).status());
    b = OpenWriter(a.dir / "b");
  }
};

TEST_CASE("clone records the checked-out branch's upstream") {
  Cloned c;
  std::optional<Upstream> up = Must(GetUpstream(*c.b, "main"));
  REQUIRE(up);
  CHECK(up->TrackingName() == "origin/main");
  CHECK_FALSE(Must(GetUpstream(*c.b, "feature")));
}

TEST_CASE("SwitchBranch makes a branch that only origin has, tracking it") {
  Cloned c;
  SwitchResult r = Must(SwitchBranch(*c.b, "feature", false, "", CheckoutOptions{}));
  CHECK(r.created);
  REQUIRE(r.tracking);
  CHECK(r.tracking->TrackingName() == "origin/feature");
  CHECK(*Must(c.b->history().CurrentBranch()) == "feature");
  CHECK(*Must(c.b->history().HeadCommit()) == c.feature);
  CHECK(ReadFileOrDie(c.a.dir / "b/x") == "feature");
  CHECK(Must(GetUpstream(*c.b, "feature"))->branch == "feature");
  // Switching back to a branch that exists creates nothing.
  SwitchResult back = Must(SwitchBranch(*c.b, "main", false, "", CheckoutOptions{}));
  CHECK_FALSE(back.created);
  CHECK_FALSE(back.tracking);
}

TEST_CASE("SwitchBranch refuses a branch that several remotes have, naming them") {
  Cloned c;
  RemoteConfig up;
  up.name = "up";
  up.url = c.a.Path("");
  Must(AddRemote(*c.b, up));
  Must(Fetch(*c.b, *OpenPath(c.a.Path("")), "up", FetchOptions{}).status());
  auto r = SwitchBranch(*c.b, "feature", false, "", CheckoutOptions{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(r.status().message().find("origin/feature, up/feature") != std::string::npos);
  CHECK_FALSE(Must(c.b->history().ReadRef("refs/heads/feature")));
  CHECK(*Must(c.b->history().CurrentBranch()) == "main");
}

TEST_CASE("a branch started from a remote-tracking branch tracks it, one from HEAD does not") {
  Cloned c;
  SwitchResult r = Must(SwitchBranch(*c.b, "mine", true, "origin/feature", CheckoutOptions{}));
  REQUIRE(r.tracking);
  CHECK(r.tracking->TrackingName() == "origin/feature");
  CHECK(*Must(c.b->history().HeadCommit()) == c.feature);
  CHECK(Must(GetUpstream(*c.b, "mine"))->branch == "feature");
  CHECK_FALSE(Must(SwitchBranch(*c.b, "local", true, "", CheckoutOptions{})).tracking);
  CHECK_FALSE(Must(CreateBranchFrom(*c.b, "from-head", "HEAD", false)));
  CHECK(Must(CreateBranchFrom(*c.b, "other", "remotes/origin/main", false)));
  // A local branch of the same name hides the remote-tracking one, as in revision lookup.
  Must(c.b->history().CreateBranch("origin/main", c.feature, false));
  CHECK_FALSE(Must(RemoteTrackingBranch(*c.b, "origin/main")));
  CHECK(Must(RemoteTrackingBranch(*c.b, "refs/remotes/origin/main")));
  Must(RemoveUpstream(*c.b, "mine"));
  CHECK_FALSE(Must(GetUpstream(*c.b, "mine")));
}

TEST_CASE("a refused switch -c leaves no new branch behind") {
  Cloned c;
  WriteFile(c.a.dir / "b/x", "local edit");
  auto r = SwitchBranch(*c.b, "mine", true, "origin/feature", CheckoutOptions{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kConflict);
  CHECK_FALSE(Must(c.b->history().ReadRef("refs/heads/mine")));
  CHECK_FALSE(Must(GetUpstream(*c.b, "mine")));
}

TEST_CASE("Pull follows the branch's upstream") {
  Cloned c;
  Must(c.b->history().CreateBranch("mine", Must(c.b->history().ResolveCommit("HEAD")), false));
  Must(SetUpstream(*c.b, "mine", {"origin", "feature"}));
  Must(Switch(*c.b, "mine", false, CheckoutOptions{}));
  CHECK(Must(DefaultRemote(*c.b)) == "origin");
  PullResult p = Must(Pull(*c.b, *OpenPath(c.a.Path("")), "origin", FetchOptions{}, {}));
  CHECK(p.upstream == "origin/feature");
  CHECK(p.outcome == PullOutcome::kFastForwarded);
  CHECK(p.new_head == c.feature);
}

}  // namespace
}  // namespace vrepo::testing
