// Reporter: how the library tells its caller about long work and about what deserves a
// warning, as LevelDB's Options::info_log does. The library never prints; a caller that wants
// bars or messages passes a Reporter in the options of the call, and a null Reporter means
// silence. Implementations must be thread-safe: work on many threads advances one step.
#pragma once

#include <cstdint>
#include <string>

namespace vrepo {

class Reporter {
 public:
  virtual ~Reporter() = default;
  // A long step begins: `label` names it ("adding", "checking out"), `total` counts its units.
  // Steps do not nest; a step ends before the next begins.
  virtual void BeginStep(const std::string& label, uint64_t total) { (void)label, (void)total; }
  // `units` more units of the current step are done.
  virtual void Advance(uint64_t units) { (void)units; }
  // `bytes` more bytes of the current step travelled (a transfer's objects), so that a
  // caller can show the volume and its rate beside the units.
  virtual void AdvanceBytes(uint64_t bytes) { (void)bytes; }
  // The current step is over (also when it failed part-way).
  virtual void EndStep() {}
  // A line of news from long work that a person reads as it happens (a finished epoch).
  virtual void Info(const std::string& line) { (void)line; }
  // A passing status line, replaced by the next one (the batch a trainer is on): worth
  // drawing on a terminal, not worth keeping in a log.
  virtual void Transient(const std::string& line) { (void)line; }
  // Something the user should know that does not stop the work ("skipping symlink 'x'").
  virtual void Warn(const std::string& message) { (void)message; }
};

// One step of a Reporter for the length of a scope; every call is a no-op when `reporter` is
// null, so library code reports without checking.
class ReportedStep {
 public:
  ReportedStep(Reporter* reporter, const std::string& label, uint64_t total) : r_(reporter) {
    if (r_) r_->BeginStep(label, total);
  }
  ~ReportedStep() { End(); }
  ReportedStep(const ReportedStep&) = delete;
  ReportedStep& operator=(const ReportedStep&) = delete;
  void Advance(uint64_t units = 1) {
    if (r_) r_->Advance(units);
  }
  void AdvanceBytes(uint64_t bytes) {
    if (r_) r_->AdvanceBytes(bytes);
  }
  // Ends the step before the scope does; later calls do nothing.
  void End() {
    if (r_) r_->EndStep();
    r_ = nullptr;
  }

 private:
  Reporter* r_;
};

inline void Warn(Reporter* reporter, const std::string& message) {
  if (reporter) reporter->Warn(message);
}

}  // namespace vrepo
