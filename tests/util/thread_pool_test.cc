#include "vrepo/util/thread_pool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

namespace vrepo {

TEST_CASE("ParallelFor calls every index exactly once, batch after batch") {
  ThreadPool pool(8);
  for (size_t round = 0; round < 200; ++round) {
    size_t n = round % 7 == 0 ? 1 : 1000 + round;
    std::vector<std::atomic<int>> calls(n);
    pool.ParallelFor(n, [&](size_t i) { calls[i].fetch_add(1); });
    // Every call has returned when ParallelFor does, and none belongs to another batch.
    for (size_t i = 0; i < n; ++i) REQUIRE(calls[i].load() == 1);
  }
}

TEST_CASE("ParallelFor of nothing returns at once") {
  ThreadPool pool(2);
  bool called = false;
  pool.ParallelFor(0, [&](size_t) { called = true; });
  CHECK_FALSE(called);
}

}  // namespace vrepo
