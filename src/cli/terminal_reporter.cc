#include "terminal_reporter.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli.h"

namespace vrepo::cli {

TerminalReporter::TerminalReporter(bool json_output)
    : json_output_(json_output), tty_(::isatty(STDERR_FILENO) == 1) {
  const char* delay = std::getenv("VREPO_PROGRESS_DELAY_MS");
  delay_ = std::chrono::milliseconds(delay && *delay ? std::atol(delay) : 1000);
}

TerminalReporter::~TerminalReporter() { EndStep(); }

void TerminalReporter::BeginStep(const std::string& label, uint64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  label_ = label;
  total_ = total;
  done_.store(0);
  bytes_.store(0);
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
  drawn_ = false;
  active_.store(true);
}

void TerminalReporter::Advance(uint64_t units) {
  uint64_t done = done_.fetch_add(units, std::memory_order_relaxed) + units;
  if (!tty_ || !active_.load(std::memory_order_relaxed)) return;
  auto now = std::chrono::steady_clock::now();
  // Many threads advance at once: one draws, the others go back to work.
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || !active_.load() || now - start_ < delay_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(done, false);
}

void TerminalReporter::AdvanceBytes(uint64_t bytes) {
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void TerminalReporter::EndStep() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_.exchange(false)) return;
  if (drawn_) Draw(done_.load(), true);
}

void TerminalReporter::Draw(uint64_t done, bool final_line) {
  const int width = 30;
  double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), ' ');
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // A transfer adds its volume and rate, as git's "12.3 MiB | 4.1 MiB/s".
  std::string volume;
  if (uint64_t bytes = bytes_.load(std::memory_order_relaxed); bytes > 0) {
    volume = ", " + HumanBytes(static_cast<double>(bytes), /*short_unit=*/true) + " | " +
             HumanBytes(static_cast<double>(bytes) / std::max(secs, 0.001), /*short_unit=*/true) +
             "/s";
  }
  std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu%s %.1fs%s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total_), volume.c_str(), secs,
               final_line ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

void TerminalReporter::Info(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (transient_shown_) std::fputs("\r\033[K", stderr);
  transient_shown_ = false;
  std::FILE* out = json_output_ ? stderr : stdout;
  std::fprintf(out, "%s\n", line.c_str());
  std::fflush(out);
}

void TerminalReporter::Transient(const std::string& line) {
  if (!tty_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  transient_shown_ = true;
}

void TerminalReporter::Warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(stderr, "vrepo: warning: %s\n", message.c_str());
  std::fflush(stderr);
}

}  // namespace vrepo::cli
