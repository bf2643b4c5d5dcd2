// Status and Result: edgert reports every failure as a value. No exception crosses the
// public API, so the runtime can sit inside a GStreamer element or a C caller safely.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace edgert {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // a caller-supplied value is wrong (name, shape, flag)
  kNotFound,         // a named tensor, file or library does not exist
  kUnsupported,      // valid input that edgert does not implement (op, dtype, attribute)
  kCorruptFile,      // a file fails verification (truncated, bad checksum, bad structure)
  kVersionMismatch,  // an engine from another format version
  kTargetMismatch,   // an engine built for another device or CPU architecture
  kIoError,          // reading or writing a file failed
  kOutOfMemory,      // an allocation failed or a size exceeds what is allowed
  kUnavailable,      // a backend or library is not present on this machine
  kInternal,         // a bug in edgert
};

const char* statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", for logs and CLI output.
  std::string toString() const;
  // The same status with `context` prepended to the message ("context: message").
  Status withContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
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

 private:
  std::variant<T, Status> v_;
};

}  // namespace edgert

// Return early on failure; keeps call sites flat.
#define EDGERT_RETURN_IF_ERROR(expr)         \
  do {                                       \
    ::edgert::Status _edgert_st = (expr);    \
    if (!_edgert_st.ok()) return _edgert_st; \
  } while (0)

#define EDGERT_CONCAT_INNER(a, b) a##b
#define EDGERT_CONCAT(a, b) EDGERT_CONCAT_INNER(a, b)
#define EDGERT_ASSIGN_OR_RETURN(lhs, expr) \
  EDGERT_ASSIGN_OR_RETURN_IMPL(EDGERT_CONCAT(_edgert_r, __LINE__), lhs, expr)
#define EDGERT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
