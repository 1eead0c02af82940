// Bad input and bad disks: each failure is one line on stderr, a git-like exit code, and a
// repository left as it was.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/cli_support.h"
#include "vrepo/store/content_id.h"

namespace vrepo::testing {
namespace {

void CheckOneErrorLine(const CommandResult& r, int code, const std::string& needle) {
  INFO("exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == code);
  CHECK(Lines(r.err).size() == 1);
  CHECK(r.err.rfind("vrepo: ", 0) == 0);
  CHECK(r.err.find(needle) != std::string::npos);
}

std::vector<std::string> PackFiles(const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(repo + "/.vrepo/objects/packs")) {
    if (e.path().extension() == ".vpk") out.push_back(e.path().string());
  }
  return out;
}

}  // namespace

TEST_CASE("cli: adding a missing path fails naming it and stages nothing") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "present.txt", "here");
  CommandResult r = RunVrepo(t.path(), {"add", "present.txt", "missing.png"});
  CheckOneErrorLine(r, 128, "missing.png");
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "?? present.txt\n");
}

TEST_CASE("cli: commands outside a repository fail with 128") {
  TempDir t;
  for (auto args : std::vector<std::vector<std::string>>{
           {"status"}, {"add", "x"}, {"log"}, {"commit", "-m", "x"}, {"fsck"}}) {
    CheckOneErrorLine(RunVrepo(t.path(), args), 128, "not a vrepo repository");
  }
}

TEST_CASE("cli: an unknown revision is a fatal error naming it") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "a", "a");
  MustRun(t.path(), {"add", "a"});
  MustRun(t.path(), {"commit", "-m", "one"});
  for (auto args : std::vector<std::vector<std::string>>{{"checkout", "nope"},
                                                         {"show", "nope"},
                                                         {"diff", "nope"},
                                                         {"diff", "HEAD", "nope"},
                                                         {"rev-parse", "nope"},
                                                         {"log", "nope"},
                                                         {"ls-tree", "nope"},
                                                         {"branch", "b", "nope"},
                                                         {"tag", "t", "nope"}}) {
    CheckOneErrorLine(RunVrepo(t.path(), args), 128, "nope");
  }
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "");
}

TEST_CASE("cli: log on an unborn branch says it has no commits") {
  TempDir t;
  MustRun(t.path(), {"init"});
  CheckOneErrorLine(RunVrepo(t.path(), {"log"}), 128, "does not have any commits yet");
}

TEST_CASE("cli: a corrupted pack byte makes fsck exit 1 naming the object and pack file") {
  TempDir t;
  MustRun(t.path(), {"init"});
  std::string data = RandomBytes(100000, 7);  // incompressible: stored raw
  WriteFile(t / "photo.png", data);
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "one"});
  MustRun(t.path(), {"fsck"});
  auto packs = PackFiles(t.path());
  REQUIRE(packs.size() == 1);
  {
    std::string pack = ReadFileOrDie(packs[0]);
    REQUIRE(pack.size() > data.size());
    size_t at = pack.find(data.substr(50000, 64));
    REQUIRE(at != std::string::npos);
    int fd = ::open(packs[0].c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    char flipped = static_cast<char>(pack[at] ^ 0x01);
    REQUIRE(::pwrite(fd, &flipped, 1, static_cast<off_t>(at)) == 1);
    ::close(fd);
  }
  CommandResult r = RunVrepo(t.path(), {"fsck"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find(ContentId::Of(data).Hex()) != std::string::npos);
  CHECK(r.out.find(std::filesystem::path(packs[0]).filename().string()) != std::string::npos);
  Json j = Json::Parse(RunVrepo(t.path(), {"fsck", "--json"}).out);
  CHECK(j["problems"].items.size() >= 1);
  // Reading the damaged file fails loudly instead of writing wrong bytes.
  std::filesystem::remove(t / "photo.png");
  CHECK(RunVrepo(t.path(), {"checkout", "--force", "main"}).exit_code != 0);
}

TEST_CASE("cli: checkout refuses to overwrite uncommitted changes unless --force") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "labels.csv", "v1");
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "one"});
  std::string first = MustRun(t.path(), {"rev-parse", "HEAD"}).out.substr(0, 40);
  WriteFile(t / "labels.csv", "v2");
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "two"});
  WriteFile(t / "labels.csv", "local edit");

  CommandResult r = RunVrepo(t.path(), {"checkout", first});
  CHECK(r.exit_code != 0);
  CHECK(Lines(r.err).size() == 1);
  CHECK(r.err.find("labels.csv") != std::string::npos);
  CHECK(r.err.find("--force") != std::string::npos);
  CHECK(ReadFileOrDie(t / "labels.csv") == "local edit");

  MustRun(t.path(), {"checkout", "--force", first});
  CHECK(ReadFileOrDie(t / "labels.csv") == "v1");
  CHECK(MustRun(t.path(), {"rev-parse", "HEAD"}).out.substr(0, 40) == first);
}

TEST_CASE("cli: a full disk during add fails cleanly and keeps the last commit") {
  TempDir t;
  SmallDisk disk(t / "disk", "4m");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a 4 MiB tmpfs here (needs root and CAP_SYS_ADMIN)");
    return;
  }
  const std::string repo = t / "disk";
  MustRun(repo, {"init"});
  WriteFile(repo + "/keep.txt", "the first commit");
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "before the disk filled"});

  // 2.5 MiB of incompressible files: they fit, but storing them as well does not.
  for (int i = 0; i < 5; ++i) {
    WriteFile(repo + "/fill/" + std::to_string(i) + ".bin", RandomBytes(512 << 10, 100 + i));
  }
  CommandResult r = RunVrepo(repo, {"add", "."});
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(Lines(r.err).size() == 1);
  CHECK(r.err.find("No space left on device") != std::string::npos);

  MustRun(repo, {"fsck"});
  MustRun(repo, {"status"});
  std::filesystem::remove_all(repo + "/fill");
  WriteFile(repo + "/keep.txt", "changed");
  MustRun(repo, {"checkout", "--force", "main"});
  CHECK(ReadFileOrDie(repo + "/keep.txt") == "the first commit");
  MustRun(repo, {"fsck"});
}

}  // namespace vrepo::testing
