// A fixed pool of worker threads and a parallel-for over an index range.
// ParallelFor may be called from one thread at a time. A task that throws (std::bad_alloc from
// a hostile size, say) stops the batch and comes back to the caller as a Status.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo {

// The first failure among work done on many threads. Thread-safe.
class FirstError {
 public:
  // Keeps `status` when it is the first failure; OK statuses are ignored.
  void Record(Status status);
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  Status status() const;

 private:
  mutable std::mutex mu_;
  std::atomic<bool> failed_{false};
  Status first_;
};

class ThreadPool {
 public:
  // `threads` == 0 means one per hardware thread (at least 2, since IO overlaps compute).
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Calls fn(i) for every i in [0, n), spread over the workers and the calling thread,
  // and returns when all calls have returned. If a call throws, the calls not yet started
  // are skipped and the first exception is returned as an IOError naming `what`.
  [[nodiscard]] Status ParallelFor(size_t n, const std::function<void(size_t)>& fn,
                                   const char* what = "a worker thread");
  // ParallelFor for calls that can fail: every call runs, and the first failure (in the order
  // the failures happened) is returned.
  [[nodiscard]] Status TryParallelFor(size_t n, const std::function<Status(size_t)>& fn,
                                      const char* what = "a worker thread");

 private:
  void WorkerLoop();
  void RunBatch();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t total_ = 0;
  size_t next_ = 0;
  size_t finished_ = 0;
  size_t generation_ = 0;
  bool stop_ = false;
  std::string error_;  // what the first throwing task threw, for the batch in progress
};

// Runs fn and returns its Status, or an IOError naming `what` if it throws: for threads that
// the pool does not own, where an escaping exception would abort the whole process.
Status CatchExceptions(const std::string& what, const std::function<Status()>& fn);

// The default number of parallel IO workers: enough to overlap reads on a small machine.
size_t DefaultIoThreads();

}  // namespace vrepo
