#include "vrepo/util/status.h"

#include <doctest/doctest.h>

#include <cerrno>

namespace vrepo {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

Result<int> Doubled(int v) {
  VREPO_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

TEST_CASE("Result carries a value or the error that explains its absence") {
  CHECK(Doubled(4).value() == 8);
  auto bad = Doubled(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kInvalidArgument);
  CHECK(bad.status().message() == "not positive: -1");
  // Never neither: an OK Status with no value is an error, so ok() always means a value.
  Result<int> neither = Status::OK();
  CHECK_FALSE(neither.ok());
  CHECK(neither.status().message() == "internal error: a result without a value");
}

TEST_CASE("errno maps to codes a user can act on") {
  CHECK(Status::FromErrno("x", ENOSPC).code() == Status::Code::kNoSpace);
  CHECK(Status::FromErrno("x", ENOENT).code() == Status::Code::kNotFound);
  CHECK(Status::FromErrno("/a/b", EACCES).message() == "/a/b: Permission denied");
  CHECK(Status::IOError("m").WithContext("ctx").message() == "ctx: m");
}

}  // namespace vrepo
