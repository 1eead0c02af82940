// Status and Result<T>: how every fallible library call reports failure.
// A Status is OK or a code plus a one-line message naming the object and the cause.
// Plain values; safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace vrepo {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,         // a path, revision or object that does not exist
    kCorruption,       // stored bytes that fail their checks
    kInvalidArgument,  // bad input from the user
    kIOError,          // the operating system refused
    kLocked,           // another writer holds the repository
    kConflict,         // the operation would lose uncommitted work
    kNoSpace,          // the disk is full
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Locked(std::string msg) { return Status(Code::kLocked, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, std::move(msg)); }
  // An IOError or NoSpace from errno, naming `what` (usually a path).
  static Status FromErrno(const std::string& what, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Returns a copy whose message is prefixed with "context: ".
  Status WithContext(const std::string& context) const;
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none: never neither. A Result made from an
// OK Status (a bug in its maker) holds an error saying so, so that ok() always means a value.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::InvalidArgument("internal error: a result without a value");
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vrepo

#define VREPO_CONCAT_INNER(a, b) a##b
#define VREPO_CONCAT(a, b) VREPO_CONCAT_INNER(a, b)

#define VREPO_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::vrepo::Status _vrepo_st = (expr);    \
    if (!_vrepo_st.ok()) return _vrepo_st; \
  } while (0)

// `tmp` is a name and `lhs` may be a declaration ("int x"): neither can be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define VREPO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

#define VREPO_ASSIGN_OR_RETURN(lhs, expr) \
  VREPO_ASSIGN_OR_RETURN_IMPL(VREPO_CONCAT(_vrepo_res_, __LINE__), lhs, expr)
