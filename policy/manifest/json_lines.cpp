#include "policy/manifest/json_lines.h"

#include <algorithm>

namespace palisade::policy::manifest {
namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  void skipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  bool done() const { return pos_ >= s_.size(); }
  size_t pos() const { return pos_; }
  void advance() { ++pos_; }

  /// At '"': returns the raw contents and moves past the closing quote.
  std::string_view string() {
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') pos_ += s_[pos_] == '\\' ? 2 : 1;
    const std::string_view raw = s_.substr(start, std::min(pos_, s_.size()) - start);
    ++pos_;
    return raw;
  }

  /// Skips one value of any type.
  void value() {
    if (at('"')) {
      string();
      return;
    }
    if (at('{') || at('[')) {
      int depth = 0;
      while (!done()) {
        const char c = s_[pos_];
        if (c == '"') {
          string();
          continue;
        }
        ++pos_;
        if (c == '{' || c == '[') ++depth;
        if ((c == '}' || c == ']') && --depth == 0) return;
      }
      return;
    }
    while (!done() && !at(',') && !at('}') && !at(']')) ++pos_;  // number, true, false, null
  }

  /// At '[': records where each element starts.
  void arrayStarts(std::vector<size_t>& out) {
    ++pos_;
    while (true) {
      skipSpace();
      if (done() || at(']')) return;
      out.push_back(pos_);
      value();
      skipSpace();
      if (!at(',')) return;
      ++pos_;
    }
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<size_t> jsonItemOffsets(std::string_view text) {
  std::vector<size_t> out;
  Scanner sc(text);
  sc.skipSpace();
  if (sc.at('[')) {
    sc.arrayStarts(out);
    return out;
  }
  if (!sc.at('{')) return out;
  sc.advance();
  while (true) {
    sc.skipSpace();
    if (!sc.at('"')) return out;
    const std::string_view key = sc.string();
    sc.skipSpace();
    if (!sc.at(':')) return out;
    sc.advance();
    sc.skipSpace();
    if (key == "items" && sc.at('[')) {
      sc.arrayStarts(out);
      return out;
    }
    sc.value();
    sc.skipSpace();
    if (!sc.at(',')) return out;
    sc.advance();
  }
}

LineIndex::LineIndex(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') newlines_.push_back(i);
  }
}

int LineIndex::lineOf(size_t offset) const {
  return static_cast<int>(std::upper_bound(newlines_.begin(), newlines_.end(), offset) -
                          newlines_.begin()) +
         1;
}

}  // namespace palisade::policy::manifest
