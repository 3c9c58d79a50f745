#include "policy/state/symbols.h"

namespace palisade::policy {

SymbolTable::SymbolTable() {
  strings_.emplace_back();
  index_.emplace(std::string_view(strings_.front()), 0);
}

Symbol SymbolTable::intern(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  const auto id = static_cast<Symbol>(strings_.size());
  const std::string& stored = strings_.emplace_back(s);
  index_.emplace(std::string_view(stored), id);
  return id;
}

Symbol SymbolTable::find(std::string_view s) const {
  auto it = index_.find(s);
  return it == index_.end() ? kNone : it->second;
}

}  // namespace palisade::policy
