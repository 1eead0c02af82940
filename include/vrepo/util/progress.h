// A progress bar on stderr for long work. It draws only when stderr is a terminal and the
// work has already taken more than a second, so scripts and quick commands see nothing.
// VREPO_PROGRESS_DELAY_MS overrides that second (tests use 0). Tick() is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace vrepo {

class Progress {
 public:
  // `label` names the work ("adding", "checking out"); `total` is the number of units.
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Tick(uint64_t units = 1);
  // Draws the final line (if anything was drawn) and stops drawing.
  void Finish();

 private:
  void Draw(uint64_t done, bool final_line);

  std::string label_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  bool enabled_;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace vrepo
