#pragma once
// Fd: the one owner of a file descriptor (a file, socket, pipe end, epoll,
// eventfd or namespace handle). Move-only; closes on destruction and on
// reset(), so every early return closes what was opened, exactly once.
// release() hands the descriptor to a caller that takes ownership (dup2 onto
// 0/1/2, a C library that closes it itself).
#include <unistd.h>

#include <utility>

namespace palisade {

class Fd {
 public:
  Fd() = default;
  /// Takes ownership of `fd`; a negative value (a failed open) is "no descriptor".
  explicit Fd(int fd) : fd_(fd < 0 ? -1 : fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  /// Gives up ownership without closing; the Fd is empty afterwards.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  /// Closes the held descriptor (if any) and takes `fd` instead. close(2)'s
  /// result is not retried: on Linux the descriptor is gone even on EINTR, and
  /// a retry could close a descriptor another thread just got.
  void reset(int fd = -1) {
    int old = std::exchange(fd_, fd < 0 ? -1 : fd);
    if (old >= 0 && old != fd_) ::close(old);
  }

 private:
  int fd_ = -1;
};

}  // namespace palisade
