#pragma once
// Label selectors compiled against the symbol table: immutable, built once,
// matched many times against interned label sets.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/model/objects.h"
#include "policy/state/symbols.h"

namespace palisade::policy {

/// A label set as sorted (key, value) symbol pairs.
using Labels = std::vector<std::pair<Symbol, Symbol>>;

Labels internLabels(const LabelMap& labels, SymbolTable& symbols);
/// The value of `key` in `labels`, or SymbolTable::kNone.
Symbol labelValue(const Labels& labels, Symbol key);

class CompiledSelector {
 public:
  CompiledSelector() = default;  // matches everything
  static CompiledSelector compile(const LabelSelector& selector, SymbolTable& symbols);
  /// A selector from a plain map (Service.spec.selector): every pair must match.
  static CompiledSelector fromMap(const LabelMap& labels, SymbolTable& symbols);

  bool matches(const Labels& labels) const;
  bool matchesEverything() const { return terms_.empty(); }
  /// A (key, value) every matching label set has (a matchLabels entry or an
  /// In with one value), for a label index to start from; none otherwise.
  std::optional<std::pair<Symbol, Symbol>> requiredLabel() const {
    for (const Term& t : terms_)
      if (t.op == SelectorOperator::In && t.values.size() == 1)
        return std::pair(t.key, t.values[0]);
    return std::nullopt;
  }
  /// Canonical text, e.g. "app=db,tier in (a,b),!legacy"; "" = everything.
  std::string describe(const SymbolTable& symbols) const { return joinedTerms(symbols, false); }
  /// Like describe, but with terms and values in text order: the same text
  /// whatever order the symbols were interned in (names kernel objects).
  std::string canonical(const SymbolTable& symbols) const { return joinedTerms(symbols, true); }
  /// Equal selectors have equal keys (used to share peer sets).
  const std::vector<uint32_t>& key() const { return key_; }
  bool operator==(const CompiledSelector& o) const { return key_ == o.key_; }

 private:
  /// Each term as text; in text order (values too) or in term order.
  std::vector<std::string> termTexts(const SymbolTable& symbols, bool text_order) const;
  std::string joinedTerms(const SymbolTable& symbols, bool text_order) const;

  struct Term {
    Symbol key;
    SelectorOperator op;
    std::vector<Symbol> values;  // sorted
  };
  std::vector<Term> terms_;  // sorted by key, then op
  std::vector<uint32_t> key_;
};

}  // namespace palisade::policy
