// Seeded random streams for the loader and the train transform: a splitmix64 mix to derive a
// stream's seed from (seed, domain, epoch, index), and draws written out rather than taken
// from <random>'s distributions, whose algorithms differ between standard libraries and would
// make recorded runs irreproducible elsewhere. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <random>

namespace vrepo::train {

// splitmix64's finalizer: a cheap bijective mix, so nearby seeds give unrelated streams.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t Combine(uint64_t a, uint64_t b) { return Mix64(a ^ Mix64(b)); }

// A uniform integer in [0, n), n > 0. Rejection of the biased tail keeps it exactly uniform.
inline uint64_t Below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do {
    r = rng();
  } while (r >= limit);
  return r % n;
}

// A uniform double in [lo, hi), from the top 53 bits of one draw.
inline double Uniform(std::mt19937_64& rng, double lo, double hi) {
  const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * unit;
}

}  // namespace vrepo::train
