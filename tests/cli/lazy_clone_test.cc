// Lazy clones end to end (docs/remote.md, "Lazy clones"): what clone --lazy brings, what
// commands fetch when they read, fetch --contents, fsck, and a remote that is gone.
#include <doctest/doctest.h>

#include <filesystem>

#include "cli/cli_support.h"
#include "dataset/dataset_fixture.h"
#include "remote/http_support.h"

namespace vrepo::testing {
namespace {

// A repository "src" with 30 Fashion-MNIST PNGs (hundreds of bytes each), labels.csv, a
// 9-byte note and a 5 MiB file (stored chunked), in one commit.
struct LazySource {
  TempDir dir;
  std::string src = dir / "src";
  LazySource() {
    MustRun(dir.path(), {"init", "src"});
    ExportFashionMnist(src, 30);
    WriteFile(src + "/note.txt", "tiny one\n");
    WriteFile(src + "/big.bin", RandomBytes(5 << 20, 7));
    MustRun(src, {"add", "."});
    MustRun(src, {"commit", "-m", "v1"});
  }
};

uint64_t JsonUint(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  REQUIRE(at != std::string::npos);
  return std::stoull(json.substr(at + key.size() + 3));
}

TEST_CASE("clone --lazy: label tables and small files now, the rest when a command reads it") {
  LazySource s;
  std::string lazy = s.dir / "lazy";
  MustRun(s.dir.path(), {"clone", "--lazy", "--lazy-threshold", "64", s.src, lazy});
  CHECK(ReadFileOrDie(lazy + "/labels.csv") == ReadFileOrDie(s.src + "/labels.csv"));
  CHECK(ReadFileOrDie(lazy + "/note.txt") == "tiny one\n");
  CHECK_FALSE(Exists(lazy + "/big.bin"));
  CHECK_FALSE(Exists(lazy + "/images/train/00001.png"));
  // Absent is not deleted: the working tree is clean.
  CHECK(MustRun(lazy, {"status", "--porcelain"}).out == "");
  // fsck names the absent objects as such (30 images, the big file) and exits 0.
  std::string fsck = MustRun(lazy, {"fsck", "--json"}).out;
  CHECK(JsonUint(fsck, "absent") == 31);
  CHECK(MustRun(lazy, {"fsck"}).out ==
        "31 objects absent (lazy clone; fetched on demand from 'origin')\n");

  // checkout REV -- PATH writes exactly that file (fetched); the others stay absent.
  MustRun(lazy, {"checkout", "HEAD", "--", "images/train/00001.png"});
  CHECK(ReadFileOrDie(lazy + "/images/train/00001.png") ==
        ReadFileOrDie(s.src + "/images/train/00001.png"));
  CHECK_FALSE(Exists(lazy + "/images/train/00002.png"));
  MustRun(lazy, {"restore", "big.bin"});  // a chunked object: chunks, then its list
  CHECK(ReadFileOrDie(lazy + "/big.bin") == ReadFileOrDie(s.src + "/big.bin"));
  CHECK(MustRun(lazy, {"status", "--porcelain"}).out == "");
  CHECK(JsonUint(MustRun(lazy, {"fsck", "--json"}).out, "absent") == 29);

  // dataset stats reads every image: it fetches them and says what the source says.
  std::string stats = MustRun(lazy, {"dataset", "stats", "--labels", "labels.csv"}).out;
  CHECK(stats == MustRun(s.src, {"dataset", "stats", "--labels", "labels.csv"}).out);
  CHECK(JsonUint(MustRun(lazy, {"fsck", "--json"}).out, "absent") == 0);
  // restore . then makes the working tree whole.
  MustRun(lazy, {"restore", "."});
  CHECK(SnapshotDiff(TakeSnapshot(s.src), TakeSnapshot(lazy)) == "");
  CHECK(MustRun(lazy, {"status", "--porcelain"}).out == "");
}

TEST_CASE("a lazy clone pushes to another remote what it lacks, fetching it from its own") {
  LazySource s;
  std::string lazy = s.dir / "lazy";
  MustRun(s.dir.path(), {"clone", "--lazy", "--lazy-threshold", "64", s.src, lazy});
  MustRun(s.dir.path(), {"init", "--bare", "mirror"});
  MustRun(lazy, {"remote", "add", "mirror", s.dir / "mirror"});
  MustRun(lazy, {"push", "mirror", "main"});
  MustRun(s.dir.path(), {"clone", s.dir / "mirror", "again"});
  CHECK(SnapshotDiff(TakeSnapshot(s.src), TakeSnapshot(s.dir / "again")) == "");
}

TEST_CASE("fetch --contents completes a lazy clone, and fsck still catches a damaged object") {
  LazySource s;
  std::string lazy = s.dir / "lazy";
  MustRun(s.dir.path(), {"clone", "--lazy", "--lazy-threshold", "64", s.src, lazy});
  MustRun(lazy, {"fetch", "--contents", "HEAD", "--", "images"});
  CHECK(JsonUint(MustRun(lazy, {"fsck", "--json"}).out, "absent") == 1);  // big.bin
  CHECK(JsonUint(MustRun(lazy, {"fetch", "--contents", "--json"}).out, "objects") == 1);
  CHECK(JsonUint(MustRun(lazy, {"fsck", "--json"}).out, "absent") == 0);
  CHECK_FALSE(Exists(lazy + "/big.bin"));  // fetch leaves the working tree alone

  // Damage a stored object's bytes: fsck reports it (and exits 1) in a lazy clone too.
  std::string packs = lazy + "/.vrepo/objects/packs";
  std::string biggest;
  uintmax_t size = 0;
  for (const auto& e : std::filesystem::directory_iterator(packs)) {
    if (e.file_size() > size) {
      size = e.file_size();
      biggest = e.path().string();
    }
  }
  std::string bytes = ReadFileOrDie(biggest);
  bytes[bytes.size() / 2] ^= 0x5a;
  WriteFile(biggest, bytes);
  CommandResult damaged = RunVrepo(lazy, {"fsck"});
  CHECK(damaged.exit_code == 1);
  CHECK(damaged.out.find("object ") != std::string::npos);
}

TEST_CASE("a lazy clone whose remote is gone: one line naming the remote and the object") {
  LazySource s;
  std::string lazy = s.dir / "lazy";
  MustRun(s.dir.path(), {"clone", "--lazy", "--lazy-threshold", "64", s.src, lazy});
  std::filesystem::rename(s.src, s.dir / "moved");
  // Commands that read nothing absent still work.
  CHECK(MustRun(lazy, {"status", "--porcelain"}).out == "");
  CommandResult r = RunVrepo(lazy, {"checkout", "HEAD", "--", "images/train/00003.png"});
  CHECK(r.exit_code != 0);
  CHECK(Lines(r.err).size() == 1);
  CHECK(r.err.rfind("vrepo: checkout: object ", 0) == 0);
  CHECK(r.err.find(" is not in this lazy clone and remote 'origin' (" + s.src +
                   ") could not be read: ") != std::string::npos);
  // Nothing was written, and nothing changed.
  CHECK_FALSE(Exists(lazy + "/images/train/00003.png"));
  CHECK(MustRun(lazy, {"status", "--porcelain"}).out == "");
  CHECK(JsonUint(MustRun(lazy, {"fsck", "--json"}).out, "absent") == 31);
}

TEST_CASE("clone --lazy over http: reads fetch from the server, and a stopped one is named") {
  LazySource s;
  std::string root = s.dir / "root";
  MustRun(s.dir.path(), {"init", "--bare", root + "/team"});
  MustRun(s.src, {"push", root + "/team", "main"});
  std::string lazy = s.dir / "lazy";
  std::string url;
  {
    ServeProcess server(root, {});
    REQUIRE(server.started());
    url = server.Url("team");
    MustRun(s.dir.path(), {"clone", "--lazy", "--lazy-threshold", "64", url, lazy});
    CHECK_FALSE(Exists(lazy + "/images/train/00001.png"));
    CHECK(MustRun(lazy, {"status", "--porcelain"}).out == "");
    MustRun(lazy, {"dataset", "check", "--labels", "labels.csv"});
    MustRun(lazy, {"restore", "big.bin"});
    CHECK(ReadFileOrDie(lazy + "/big.bin") == ReadFileOrDie(s.src + "/big.bin"));
    CHECK(JsonUint(MustRun(lazy, {"fsck", "--json"}).out, "absent") == 0);
  }
  std::string again = s.dir / "again";
  {
    ServeProcess server(root, {});
    REQUIRE(server.started());
    url = server.Url("team");
    MustRun(s.dir.path(), {"clone", "--lazy", url, again});
    // The default threshold (64 KiB) takes the small note but no image, however small, and
    // not big.bin.
    CHECK(Exists(again + "/note.txt"));
    CHECK_FALSE(Exists(again + "/images/train/00001.png"));
    CHECK(JsonUint(MustRun(again, {"fsck", "--json"}).out, "absent") == 31);
  }
  CommandResult r = RunVrepo(again, {"restore", "big.bin"});
  CHECK(r.exit_code != 0);
  CHECK(Lines(r.err).size() == 1);
  CHECK(r.err.find("is not in this lazy clone and remote 'origin' (" + url +
                   ") could not be read: ") != std::string::npos);
  CHECK_FALSE(Exists(again + "/big.bin"));
}

}  // namespace
}  // namespace vrepo::testing
