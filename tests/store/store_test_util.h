// Helpers shared by the store tests: opening a fresh store and looking at its files.
// Test-only; each helper aborts the test on failure.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vrepo/store/object_store.h"

namespace vrepo::store_test {

inline std::unique_ptr<ObjectStore> OpenStore(const std::string& vrepo_dir,
                                              StoreOptions options = {}) {
  REQUIRE(ObjectStore::Create(vrepo_dir).ok());
  auto store = ObjectStore::Open(vrepo_dir, /*read_only=*/false, options);
  REQUIRE(store.ok());
  return std::move(store).value();
}

inline std::unique_ptr<PackWriter> NewWriter(ObjectStore& store) {
  auto w = store.NewWriter();
  REQUIRE(w.ok());
  return std::move(w).value();
}

// Pack file paths under `vrepo_dir`, sorted.
inline std::vector<std::string> PackFiles(const std::string& vrepo_dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(vrepo_dir + "/objects/packs")) {
    out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Total bytes of the regular files under `dir`.
inline uint64_t TreeBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

}  // namespace vrepo::store_test
