// The CLI's Reporter: a progress bar on stderr for long steps (with the bytes and their rate
// for a transfer that reports them), drawn only when stderr is a terminal and the step has already
// taken more than a second (VREPO_PROGRESS_DELAY_MS overrides that second; tests use 0), so scripts
// and quick commands see nothing; news lines on stdout (stderr when stdout is one JSON document);
// warnings on stderr. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "vrepo/util/reporter.h"

namespace vrepo::cli {

class TerminalReporter : public Reporter {
 public:
  // `json_output`: stdout carries one JSON document, so news lines go to stderr.
  explicit TerminalReporter(bool json_output = false);
  ~TerminalReporter() override;

  void BeginStep(const std::string& label, uint64_t total) override;
  void Advance(uint64_t units) override;
  void AdvanceBytes(uint64_t bytes) override;
  void EndStep() override;
  void Info(const std::string& line) override;
  void Transient(const std::string& line) override;
  void Warn(const std::string& message) override;

 private:
  void Draw(uint64_t done, bool final_line);  // mu_ held

  const bool json_output_;
  const bool tty_;
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::string label_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> bytes_{0};  // drawn with their rate once a step reports any
  std::atomic<bool> active_{false};
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
  bool transient_shown_ = false;
};

}  // namespace vrepo::cli
