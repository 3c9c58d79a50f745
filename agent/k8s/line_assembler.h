#pragma once
// Reassembles newline-delimited JSON (watch events) from body pieces cut at
// arbitrary byte boundaries (HTTP chunks, TCP segments). Each complete line is
// handed out in a buffer padded for simdjson, so it parses without a copy.
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace palisade::agent::k8s {

class LineAssembler {
 public:
  /// `max_line` bounds one line and so the buffer (the reflector passes
  /// kMaxWatchEventBytes).
  explicit LineAssembler(size_t max_line) : max_line_(max_line) {}

  /// Feeds a piece; calls `on_line(const char* data, size_t len)` for each
  /// complete non-empty line (data has SIMDJSON_PADDING readable bytes after
  /// it). Returns false when a line exceeds the limit (the stream is bad).
  template <typename F>
  bool feed(std::string_view piece, F&& on_line) {
    while (!piece.empty()) {
      size_t nl = piece.find('\n');
      size_t take = nl == std::string_view::npos ? piece.size() : nl;
      if (len_ + take > max_line_) return false;
      append(piece.data(), take);
      if (nl == std::string_view::npos) break;
      piece.remove_prefix(nl + 1);
      if (len_ > 0) {
        // Trailing '\r' is allowed by some proxies.
        size_t n = len_;
        if (buf_[n - 1] == '\r') --n;
        if (n > 0) on_line(static_cast<const char*>(buf_.data()), n);
      }
      len_ = 0;
    }
    return true;
  }

  size_t pending() const { return len_; }
  void clear() { len_ = 0; }

 private:
  void append(const char* p, size_t n) {
    const size_t need = len_ + n + simdjson::SIMDJSON_PADDING;
    // Doubling amortises the copies; the cap keeps the buffer within the limit.
    if (need > buf_.size()) buf_.resize(std::min(need * 2, max_line_ + simdjson::SIMDJSON_PADDING));
    std::memcpy(buf_.data() + len_, p, n);
    len_ += n;
  }

  std::string buf_;
  size_t len_ = 0;
  size_t max_line_;
};

}  // namespace palisade::agent::k8s
