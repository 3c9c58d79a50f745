#pragma once
// String interning: every namespace name, pod name, label key and value is
// stored once and handled as a 32-bit Symbol, so label matching compares
// integers and 150k pods share their label strings.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace palisade::policy {

using Symbol = uint32_t;  // 0 is the empty string

class SymbolTable {
 public:
  SymbolTable();
  Symbol intern(std::string_view s);
  /// The symbol of `s` if it was ever interned, else nullopt-like kNone.
  Symbol find(std::string_view s) const;
  std::string_view view(Symbol s) const { return strings_[s]; }
  size_t size() const { return strings_.size(); }
  static constexpr Symbol kNone = UINT32_MAX;

 private:
  std::deque<std::string> strings_;  // deque: views stay valid as it grows
  std::unordered_map<std::string_view, Symbol> index_;
};

}  // namespace palisade::policy
