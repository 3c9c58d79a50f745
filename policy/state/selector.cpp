#include "policy/state/selector.h"

#include <algorithm>
#include <tuple>

namespace palisade::policy {

Labels internLabels(const LabelMap& labels, SymbolTable& symbols) {
  Labels out;
  out.reserve(labels.size());
  for (const auto& [k, v] : labels) out.emplace_back(symbols.intern(k), symbols.intern(v));
  std::sort(out.begin(), out.end());
  return out;
}

Symbol labelValue(const Labels& labels, Symbol key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, Symbol k) { return kv.first < k; });
  return (it != labels.end() && it->first == key) ? it->second : SymbolTable::kNone;
}

namespace {
// matchLabels k=v is the same requirement as "k In (v)"; folding both forms
// into one term list gives equal selectors equal keys.
void finish(std::vector<uint32_t>& key, auto& terms) {
  std::sort(terms.begin(), terms.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.op, a.values) < std::tie(b.key, b.op, b.values);
  });
  terms.erase(std::unique(terms.begin(), terms.end(),
                          [](const auto& a, const auto& b) {
                            return a.key == b.key && a.op == b.op && a.values == b.values;
                          }),
              terms.end());
  for (const auto& t : terms) {
    key.push_back(t.key);
    key.push_back(static_cast<uint32_t>(t.op));
    key.push_back(static_cast<uint32_t>(t.values.size()));
    key.insert(key.end(), t.values.begin(), t.values.end());
  }
}
}  // namespace

CompiledSelector CompiledSelector::compile(const LabelSelector& selector, SymbolTable& symbols) {
  CompiledSelector out;
  for (const auto& [k, v] : selector.match_labels) {
    out.terms_.push_back(Term{symbols.intern(k), SelectorOperator::In, {symbols.intern(v)}});
  }
  for (const auto& req : selector.match_expressions) {
    Term t{symbols.intern(req.key), req.op, {}};
    for (const auto& v : req.values) t.values.push_back(symbols.intern(v));
    std::sort(t.values.begin(), t.values.end());
    t.values.erase(std::unique(t.values.begin(), t.values.end()), t.values.end());
    out.terms_.push_back(std::move(t));
  }
  finish(out.key_, out.terms_);
  return out;
}

CompiledSelector CompiledSelector::fromMap(const LabelMap& labels, SymbolTable& symbols) {
  LabelSelector sel;
  sel.match_labels = labels;
  return compile(sel, symbols);
}

bool CompiledSelector::matches(const Labels& labels) const {
  for (const Term& t : terms_) {
    const Symbol value = labelValue(labels, t.key);
    const bool present = value != SymbolTable::kNone;
    switch (t.op) {
      case SelectorOperator::Exists:
        if (!present) return false;
        break;
      case SelectorOperator::DoesNotExist:
        if (present) return false;
        break;
      case SelectorOperator::In:
        if (!present || !std::binary_search(t.values.begin(), t.values.end(), value)) return false;
        break;
      case SelectorOperator::NotIn:
        // NotIn matches when the key is absent too (Kubernetes semantics).
        if (present && std::binary_search(t.values.begin(), t.values.end(), value)) return false;
        break;
    }
  }
  return true;
}

namespace {

std::string termText(std::string_view key, SelectorOperator op, std::vector<std::string> values,
                     bool sort_values) {
  if (sort_values) std::sort(values.begin(), values.end());
  std::string joined;
  for (const std::string& v : values) {
    if (!joined.empty()) joined += ",";
    joined += v;
  }
  switch (op) {
    case SelectorOperator::In:
      return values.size() == 1 ? std::string(key) + "=" + joined
                                : std::string(key) + " in (" + joined + ")";
    case SelectorOperator::NotIn:
      return std::string(key) + " notin (" + joined + ")";
    case SelectorOperator::Exists:
      return std::string(key);
    case SelectorOperator::DoesNotExist:
      return "!" + std::string(key);
  }
  return std::string(key);
}

}  // namespace

std::vector<std::string> CompiledSelector::termTexts(const SymbolTable& symbols,
                                                     bool text_order) const {
  std::vector<std::string> out;
  out.reserve(terms_.size());
  for (const Term& t : terms_) {
    std::vector<std::string> values;
    values.reserve(t.values.size());
    for (Symbol v : t.values) values.emplace_back(symbols.view(v));
    out.push_back(termText(symbols.view(t.key), t.op, std::move(values), text_order));
  }
  if (text_order) std::sort(out.begin(), out.end());
  return out;
}

std::string CompiledSelector::joinedTerms(const SymbolTable& symbols, bool text_order) const {
  std::string out;
  for (const std::string& t : termTexts(symbols, text_order)) {
    if (!out.empty()) out += ",";
    out += t;
  }
  return out;
}

}  // namespace palisade::policy
