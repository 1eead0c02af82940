// Must(): in a doctest test, the value of a Result or the success of a Status, failing the
// test with the error otherwise. Shared by the layers' test fixtures.
#pragma once

#include <doctest/doctest.h>

#include <utility>

#include "vrepo/util/status.h"

namespace vrepo::testing {

template <class T>
T Must(Result<T> r) {
  if (!r.ok()) FAIL(r.status().ToString());
  return std::move(r).value();
}

inline void Must(const Status& s) {
  if (!s.ok()) FAIL(s.ToString());
}

}  // namespace vrepo::testing
