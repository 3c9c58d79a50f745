#pragma once
// Result<T>: a value or an Error — the one way a fallible function reports an
// environmental failure (netlink EPERM/EBUSY/EINVAL, a missing kernel feature,
// an unreadable file, an API server that refused) in every folder. Nothing on
// the reconcile loop or the packet path throws; libraries that do (yaml-cpp,
// protobuf) are caught at their edge and turned into an Error there.
// policy::Diagnostics stays for object validation: a list of findings about
// objects, not the failure of a call.
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace palisade {

/// An errno (0 when not from the kernel) and a context chain, outermost first:
/// "programming table inet palisade: adding element to set peers_ab12 (...): EINVAL".
class Error {
 public:
  Error() = default;
  Error(int code, std::string message) : code_(code), message_(std::move(message)) {}
  static Error fromErrno(int code, std::string_view what) { return Error(code, std::string(what)); }

  int code() const { return code_; }
  const std::string& message() const { return message_; }
  /// Prefixes a layer of context: "outer: inner".
  Error context(std::string_view outer) const {
    return Error(code_, std::string(outer) + ": " + message_);
  }
  /// The message with the errno's symbolic name appended ("...: EINVAL (Invalid argument)").
  std::string str() const {
    if (code_ == 0) return message_;
    const char* name = strerrorname_np(code_);
    return message_ + ": " + (name ? name : "E?") + " (" + std::strerror(code_) + ")";
  }

 private:
  int code_ = 0;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status okStatus() { return Ok{}; }

}  // namespace palisade
