#include "vrepo/remote/service.h"

#include <doctest/doctest.h>

#include "remote/remote_fixture.h"
#include "vrepo/remote/object_batch.h"

namespace vrepo::testing {
namespace {

// Pushes `head` of `src` to `dest` by hand, through the service operations.
void SendCommit(Repository& src, Transport& dest, const std::string& head) {
  auto local = RemoteService::Over(src);
  std::vector<ContentId> missing = Must(dest.MissingObjects(ContentOf(src, head)));
  if (!missing.empty()) Must(dest.WriteObjects(Must(local->ReadObjects(missing))).status());
  Must(dest.WriteHistory(Must(local->ReadHistory({head}, {}))));
}

TEST_CASE("a path without a repository answers NotFound to reads") {
  TempDir dir;
  auto service = RemoteService::AtPath(dir / "none", /*create_if_missing=*/true);
  auto refs = service->ListRefs();
  CHECK(refs.status().code() == Status::Code::kNotFound);
  CHECK(Must(service->MissingObjects({ContentId::Of("x")})).size() == 1);
  CHECK_FALSE(Exists(dir / "none"));
}

TEST_CASE("a first push creates a bare repository holding the objects, history and ref") {
  RepoFixture src;
  src.Write("a.txt", "alpha");
  src.Write("dir/b.bin", RandomBytes(5000, 1));
  std::string head = src.CommitAll("first");
  TempDir dir;
  auto dest = RemoteService::AtPath(dir / "team", true);

  std::vector<ContentId> ids = ContentOf(*src.repo, head);
  CHECK(Must(dest->MissingObjects(ids)).size() == 2);
  auto local = RemoteService::Over(*src.repo);
  std::string batch = Must(local->ReadObjects(ids));
  CHECK(Must(dest->WriteObjects(batch)) == 2);
  CHECK(Must(dest->WriteObjects(batch)) == 0);  // already stored
  CHECK(Must(dest->MissingObjects(ids)).empty());
  Must(dest->WriteHistory(Must(local->ReadHistory({head}, {}))));
  Must(dest->UpdateRefs({{"refs/heads/main", "", head, false}}));

  RefListing listing = Must(dest->ListRefs());
  REQUIRE(listing.refs.size() == 1);
  CHECK(listing.refs[0].name == "refs/heads/main");
  CHECK(listing.refs[0].target == head);
  CHECK(listing.head_branch == "refs/heads/main");

  auto opened = OpenWriter(dir / "team");
  CHECK(opened->bare());
  CHECK(Must(opened->store().Get(ids[0])) == "alpha");
  CHECK(Must(Fsck(*opened)).problems.empty());
}

TEST_CASE("ref updates are compare-and-swap and fast-forward only unless forced") {
  RepoFixture src;
  src.Write("a.txt", "one");
  std::string c1 = src.CommitAll("one");
  src.Write("a.txt", "two");
  std::string c2 = src.CommitAll("two");
  TempDir dir;
  auto dest = RemoteService::AtPath(dir / "r", true);
  SendCommit(*src.repo, *dest, c1);
  SendCommit(*src.repo, *dest, c2);
  Must(dest->UpdateRefs({{"refs/heads/main", "", c1, false}}));

  Status stale = dest->UpdateRefs({{"refs/heads/main", "", c2, false}});
  CHECK(stale.code() == Status::Code::kConflict);
  CHECK(stale.message() == "rejected: refs/heads/main changed on the remote (fetch first)");

  Must(dest->UpdateRefs({{"refs/heads/main", c1, c2, false}}));
  Status back = dest->UpdateRefs({{"refs/heads/main", c2, c1, false}});
  CHECK(back.code() == Status::Code::kConflict);
  CHECK(back.message().find("not a fast-forward") != std::string::npos);
  Must(dest->UpdateRefs({{"refs/heads/main", c2, c1, true}}));
  CHECK(Must(dest->ListRefs()).refs[0].target == c1);
  // Deleting is a compare-and-swap too.
  Must(dest->UpdateRefs({{"refs/heads/main", c1, "", false}}));
  CHECK(Must(dest->ListRefs()).refs.empty());
}

TEST_CASE("a ref never moves to a commit whose content is missing") {
  RepoFixture src;
  src.Write("a.txt", "present");
  src.Write("b.txt", "absent");
  std::string head = src.CommitAll("c");
  TempDir dir;
  auto dest = RemoteService::AtPath(dir / "r", true);
  auto local = RemoteService::Over(*src.repo);
  Must(dest->WriteObjects(Must(local->ReadObjects({ContentId::Of("present")}))).status());
  Must(dest->WriteHistory(Must(local->ReadHistory({head}, {}))));
  Status st = dest->UpdateRefs({{"refs/heads/main", "", head, false}});
  CHECK(st.code() == Status::Code::kConflict);
  CHECK(st.message() == "rejected: refs/heads/main: content " + ContentId::Of("absent").Hex() +
                            " of 'b.txt' is missing on the remote");
  CHECK(Must(dest->ListRefs()).refs.empty());

  // Without its history the commit is refused as missing.
  TempDir other;
  auto empty = RemoteService::AtPath(other / "r", true);
  Must(empty->WriteObjects(Must(local->ReadObjects(ContentOf(*src.repo, head)))).status());
  st = empty->UpdateRefs({{"refs/heads/main", "", head, false}});
  CHECK(st.message() == "rejected: refs/heads/main: commit " + head + " is missing on the remote");
}

TEST_CASE("a push to the checked-out branch of a repository with a working tree is refused") {
  RepoFixture src;
  src.Write("a.txt", "x");
  std::string c1 = src.CommitAll("one");
  RepoFixture dest_repo;
  dest_repo.Write("b.txt", "y");
  std::string d1 = dest_repo.CommitAll("theirs");
  dest_repo.repo.reset();  // release the writer lock
  auto dest = RemoteService::AtPath(dest_repo.dir.path(), false);
  SendCommit(*src.repo, *dest, c1);
  Status st = dest->UpdateRefs({{"refs/heads/main", d1, c1, true}});
  CHECK(st.code() == Status::Code::kConflict);
  CHECK(st.message().find("refusing to update the checked-out branch refs/heads/main") !=
        std::string::npos);
  Must(dest->UpdateRefs({{"refs/heads/other", "", c1, false}}));
}

TEST_CASE("a batch whose object does not match its id is refused, naming it, and stores nothing") {
  RepoFixture src;
  src.Write("a.txt", std::string(3000, 'a'));  // zstd-compressed in the store
  std::string head = src.CommitAll("c");
  ContentId id = ContentId::Of(std::string(3000, 'a'));
  auto local = RemoteService::Over(*src.repo);
  std::string batch = Must(local->ReadObjects({id}));
  batch[batch.size() - 3] ^= 0x40;
  TempDir dir;
  auto dest = RemoteService::AtPath(dir / "r", true);
  auto written = dest->WriteObjects(batch);
  CHECK(written.status().code() == Status::Code::kCorruption);
  CHECK(written.status().message().find("object " + id.Hex()) != std::string::npos);
  CHECK(Must(dest->MissingObjects({id})).size() == 1);
}

TEST_CASE("services over an open repository share it across connections") {
  RepoFixture src;
  src.Write("a.txt", "x");
  std::string head = src.CommitAll("one");
  auto local = RemoteService::Over(*src.repo);
  auto second = Must(local->Connect());
  RefListing listing = Must(second->ListRefs());
  REQUIRE(listing.refs.size() == 1);
  CHECK(listing.refs[0].target == head);
  CHECK(second->Describe() == src.repo->root());
}

}  // namespace
}  // namespace vrepo::testing
