// The Python that train tests compare against: Debian's interpreter, which has python3-torch
// and python3-torchvision; a `python3` earlier on PATH may not. VREPO_TEST_PYTHON overrides it
// (e.g. to check the skip path).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

namespace vrepo::testing {

inline std::string ReferencePython() {
  const char* env = std::getenv("VREPO_TEST_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

// Whether ReferencePython() imports torchvision and PIL (tests skip without them).
inline bool HaveTorchvision() {
  const std::string cmd = ReferencePython() + " -c 'import torchvision, PIL' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// In a test case: true, after saying why, when the reference cannot be run (then return).
inline bool SkipWithoutTorchvision() {
  if (HaveTorchvision()) return false;
  MESSAGE("skipped: " << ReferencePython()
                      << " cannot import torchvision (python3-torchvision absent)");
  return true;
}

}  // namespace vrepo::testing
