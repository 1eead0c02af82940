#include "vrepo/util/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace vrepo {

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      enabled_(::isatty(STDERR_FILENO) == 1) {
  const char* delay = std::getenv("VREPO_PROGRESS_DELAY_MS");
  delay_ = std::chrono::milliseconds(delay && *delay ? std::atol(delay) : 1000);
  last_draw_ = start_ - std::chrono::seconds(1);
}

Progress::~Progress() { Finish(); }

void Progress::Tick(uint64_t units) {
  uint64_t done = done_.fetch_add(units, std::memory_order_relaxed) + units;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - start_ < delay_) return;
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(done, false);
}

void Progress::Draw(uint64_t done, bool final_line) {
  const int width = 30;
  double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), ' ');
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu %.1fs%s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total_), secs, final_line ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (drawn_) Draw(done_.load(), true);
}

}  // namespace vrepo
