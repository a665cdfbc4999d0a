// Errors as values. Every fallible call in tutti returns a Status or a Result<T>; the message names
// what failed (model, node, tensor, field) so a user sees one clear line, never a crash.
#pragma once

#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace tutti {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // bad user input: model, tensor, config, message
  kNotFound,           // a file, tensor, model or processor that does not exist
  kUnimplemented,      // an operator or attribute combination a backend lacks
  kOutOfMemory,        // host or device allocation failed
  kDeviceError,        // a kernel or driver failure on a processor
  kUnavailable,        // a processor or remote device that cannot be reached now
  kResourceExhausted,  // a full queue
  kDeadlineExceeded,   // an SLO that can no longer be met
  kCancelled,          // shut down before it ran
  kFailedPrecondition,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "context: message" -- callers add what they were doing as the error travels up.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Concatenates anything streamable; the building block of error messages.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <typename... Args>
Status InvalidArgument(const Args&... args) { return Status(StatusCode::kInvalidArgument, StrCat(args...)); }
template <typename... Args>
Status NotFound(const Args&... args) { return Status(StatusCode::kNotFound, StrCat(args...)); }
template <typename... Args>
Status Unimplemented(const Args&... args) { return Status(StatusCode::kUnimplemented, StrCat(args...)); }
template <typename... Args>
Status OutOfMemory(const Args&... args) { return Status(StatusCode::kOutOfMemory, StrCat(args...)); }
template <typename... Args>
Status DeviceError(const Args&... args) { return Status(StatusCode::kDeviceError, StrCat(args...)); }
template <typename... Args>
Status Unavailable(const Args&... args) { return Status(StatusCode::kUnavailable, StrCat(args...)); }
template <typename... Args>
Status Internal(const Args&... args) { return Status(StatusCode::kInternal, StrCat(args...)); }
template <typename... Args>
Status FailedPrecondition(const Args&... args) { return Status(StatusCode::kFailedPrecondition, StrCat(args...)); }
template <typename... Args>
Status ResourceExhausted(const Args&... args) { return Status(StatusCode::kResourceExhausted, StrCat(args...)); }
template <typename... Args>
Status Cancelled(const Args&... args) { return Status(StatusCode::kCancelled, StrCat(args...)); }
template <typename... Args>
Status DeadlineExceeded(const Args&... args) { return Status(StatusCode::kDeadlineExceeded, StrCat(args...)); }

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tutti

#define TUTTI_CONCAT_INNER(a, b) a##b
#define TUTTI_CONCAT(a, b) TUTTI_CONCAT_INNER(a, b)

#define TUTTI_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::tutti::Status tutti_status_ = (expr);         \
    if (!tutti_status_.ok()) return tutti_status_;  \
  } while (0)

#define TUTTI_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// TUTTI_ASSIGN_OR_RETURN(auto x, MakeX());
#define TUTTI_ASSIGN_OR_RETURN(lhs, expr) \
  TUTTI_ASSIGN_OR_RETURN_IMPL(TUTTI_CONCAT(tutti_result_, __LINE__), lhs, expr)
