#include "vrepo/util/thread_pool.h"

#include <algorithm>
#include <exception>
#include <new>

namespace vrepo {

namespace {

// What the exception being handled says; call only inside a catch block.
std::string CurrentExceptionText() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return "out of memory";
  } catch (const std::exception& e) {
    return *e.what() != '\0' ? e.what() : "unknown error";
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

void FirstError::Record(Status status) {
  if (status.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.load()) return;
  first_ = std::move(status);
  failed_.store(true);
}

Status FirstError::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_;
}

Status ThreadPool::TryParallelFor(size_t n, const std::function<Status(size_t)>& fn,
                                  const char* what) {
  FirstError first;
  VREPO_RETURN_IF_ERROR(ParallelFor(
      n, [&](size_t i) { first.Record(fn(i)); }, what));
  return first.status();
}

Status CatchExceptions(const std::string& what, const std::function<Status()>& fn) {
  try {
    return fn();
  } catch (...) {
    return Status::IOError(what + ": " + CurrentExceptionText());
  }
}

size_t DefaultIoThreads() {
  size_t hw = std::max<size_t>(1, std::thread::hardware_concurrency());
  return std::clamp<size_t>(hw * 4, 4, 32);
}

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = std::max<size_t>(2, std::thread::hardware_concurrency());
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunBatch() {
  // Claims indices one at a time; items are coarse (a file each) so contention is low.
  std::unique_lock<std::mutex> lock(mu_);
  const auto* fn = fn_;
  while (fn_ == fn && next_ < total_) {
    size_t i = next_++;
    if (!error_.empty()) {  // a task threw: the rest of the batch is skipped
      if (++finished_ == total_) done_cv_.notify_all();
      continue;
    }
    lock.unlock();
    std::string thrown;
    try {
      (*fn)(i);
    } catch (...) {
      thrown = CurrentExceptionText();
    }
    lock.lock();
    if (!thrown.empty() && error_.empty()) error_ = std::move(thrown);
    if (++finished_ == total_) done_cv_.notify_all();
  }
}

void ThreadPool::WorkerLoop() {
  size_t seen = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    RunBatch();
  }
}

Status ThreadPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn, const char* what) {
  if (n == 0) return Status::OK();
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    total_ = n;
    next_ = 0;
    finished_ = 0;
    error_.clear();
    ++generation_;
  }
  work_cv_.notify_all();
  RunBatch();
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return finished_ == total_; });
  fn_ = nullptr;
  if (error_.empty()) return Status::OK();
  return Status::IOError(std::string(what) + ": " + error_);
}

}  // namespace vrepo
