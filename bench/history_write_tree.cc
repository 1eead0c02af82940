// Measures History::WriteTree (and ReadTree) for N files spread over F folders, then a second
// WriteTree with one file changed. Build against libvrepo:
//   c++ -O2 -std=c++20 -Iinclude bench/history_write_tree.cc build/libvrepo.a \
//       $(pkg-config --libs libgit2 libzstd rocksdb) -lcrypto -lz -o /tmp/wt_bench
//   /usr/bin/time -v /tmp/wt_bench /tmp/wt_repo 1000000 1000
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "vrepo/history/history.h"

namespace {
double CpuSeconds();
double cpu0 = 0;
// Wall seconds since t0, and the process CPU seconds since the last call (printed).
std::string Seconds(std::chrono::steady_clock::time_point t0) {
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f s wall, %.2f s cpu", wall, cpu);
  return buf;
}
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
long PeakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}
void Check(const vrepo::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s META_DIR FILES FOLDERS\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  size_t n = std::stoul(argv[2]), folders = std::stoul(argv[3]);
  Check(vrepo::History::Init(dir));
  auto h = vrepo::History::Open(dir);
  Check(h.status());
  std::vector<vrepo::FileEntry> files(n);
  for (size_t i = 0; i < n; ++i) {
    files[i].path =
        "images/class" + std::to_string(i % folders) + "/img" + std::to_string(i) + ".png";
    files[i].id = vrepo::ContentId::Of(std::to_string(i));
    files[i].size = 1000 + i;
  }
  std::printf("input built, rss %ld MB\n", PeakRssMb());
  cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  auto tree = (*h)->WriteTree(files);
  Check(tree.status());
  std::printf("WriteTree %zu files: %s (tree %s), peak rss %ld MB\n", n, Seconds(t0).c_str(),
              tree->c_str(), PeakRssMb());
  cpu0 = CpuSeconds();
  t0 = std::chrono::steady_clock::now();
  auto commit = (*h)->CreateCommit(*tree, {}, "bench");
  Check(commit.status());
  Check((*h)->AdvanceHead(*commit, std::nullopt, "bench"));
  std::printf("commit+ref: %s\n", Seconds(t0).c_str());

  files[n / 2].size += 1;
  cpu0 = CpuSeconds();
  t0 = std::chrono::steady_clock::now();
  auto tree2 = (*h)->WriteTree(files);
  Check(tree2.status());
  std::printf("WriteTree with 1 change: %s, peak rss %ld MB\n", Seconds(t0).c_str(), PeakRssMb());

  cpu0 = CpuSeconds();
  t0 = std::chrono::steady_clock::now();
  auto read = (*h)->ReadTree(*tree);
  Check(read.status());
  std::printf("ReadTree %zu files: %s, peak rss %ld MB\n", read->size(), Seconds(t0).c_str(),
              PeakRssMb());
  return 0;
}
