// TokenFailures: unknown tokens counted per client address in fixed windows, so that guessing
// a token costs a window per `max` guesses (`vrepo serve`'s bearer tokens, the web view's
// logins). Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vrepo {

class TokenFailures {
 public:
  TokenFailures(int max, int window_s) : max_(max), window_(window_s) {}

  // Seconds the address must wait before its next token is checked; 0 = now.
  int RetryAfter(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(address);
    if (it == entries_.end() || it->second.failures < max_) return 0;
    auto left = std::chrono::ceil<std::chrono::seconds>(it->second.start + window_ - Clock::now());
    if (left.count() <= 0) {
      entries_.erase(it);
      return 0;
    }
    return static_cast<int>(left.count());
  }

  void Fail(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    // Forget finished windows before the table grows with every address that ever failed.
    if (entries_.size() >= 10000) {
      std::erase_if(entries_, [&](const auto& e) { return e.second.start + window_ <= now; });
    }
    Entry& e = entries_[address];
    if (e.start + window_ <= now) e = Entry{now, 0};
    ++e.failures;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Clock::time_point start;
    int failures = 0;
  };
  const int max_;
  const std::chrono::seconds window_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace vrepo
