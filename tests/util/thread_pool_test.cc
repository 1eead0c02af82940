#include "vrepo/util/thread_pool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vrepo {

TEST_CASE("ParallelFor calls every index exactly once, batch after batch") {
  ThreadPool pool(8);
  for (size_t round = 0; round < 200; ++round) {
    size_t n = round % 7 == 0 ? 1 : 1000 + round;
    std::vector<std::atomic<int>> calls(n);
    REQUIRE(pool.ParallelFor(n, [&](size_t i) { calls[i].fetch_add(1); }).ok());
    // Every call has returned when ParallelFor does, and none belongs to another batch.
    for (size_t i = 0; i < n; ++i) REQUIRE(calls[i].load() == 1);
  }
}

TEST_CASE("ParallelFor of nothing returns at once") {
  ThreadPool pool(2);
  bool called = false;
  CHECK(pool.ParallelFor(0, [&](size_t) { called = true; }).ok());
  CHECK_FALSE(called);
}

TEST_CASE("A task that throws comes back as a Status and the pool keeps working") {
  ThreadPool pool(4);
  std::atomic<int> ran{0};
  std::atomic<bool> thrown{false};
  Status st = pool.ParallelFor(
      10000,
      [&](size_t i) {
        ran.fetch_add(1);
        if (i == 3) {
          thrown = true;
          throw std::bad_alloc();
        }
        // No task finishes before the throw, and each after it is slow, so that the skip shows
        // even where the thread holding index 3 is descheduled for a while (2 cores, 5 threads).
        while (!thrown) std::this_thread::yield();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      },
      "reading objects");
  REQUIRE_FALSE(st.ok());
  CHECK(st.message() == "reading objects: out of memory");
  CHECK(ran.load() < 10000);  // the rest of the batch was skipped
  // The next batch starts clean.
  std::atomic<int> calls{0};
  CHECK(pool.ParallelFor(100, [&](size_t) { calls.fetch_add(1); }).ok());
  CHECK(calls.load() == 100);
  st = pool.ParallelFor(5, [&](size_t) { throw std::runtime_error("bad chunk list"); });
  CHECK(st.message() == "a worker thread: bad chunk list");
}

TEST_CASE("CatchExceptions turns a throw on a thread of one's own into a Status") {
  Status st;
  std::thread t([&] {
    st = CatchExceptions("loading v1", []() -> Status { throw std::length_error("vector"); });
  });
  t.join();
  CHECK(st.message() == "loading v1: vector");
  CHECK(CatchExceptions("x", [] { return Status::NotFound("y"); }).message() == "y");
}

TEST_CASE("TryParallelFor runs every call and returns the first failure") {
  ThreadPool pool(4);
  std::atomic<int> ran{0};
  Status st = pool.TryParallelFor(1000, [&](size_t i) {
    ran.fetch_add(1);
    return i == 500 ? Status::NotFound("item 500") : Status::OK();
  });
  CHECK(ran.load() == 1000);
  CHECK(st.code() == Status::Code::kNotFound);
  CHECK(st.message() == "item 500");
  CHECK(pool.TryParallelFor(10, [](size_t) { return Status::OK(); }).ok());
}

}  // namespace vrepo
