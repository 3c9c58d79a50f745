#include "policy/state/selector.h"

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

std::string CompiledSelector::describe(const SymbolTable& symbols) const {
  std::string out;
  for (const Term& t : terms_) {
    if (!out.empty()) out += ",";
    const std::string key(symbols.view(t.key));
    auto values = [&] {
      std::string v;
      for (Symbol s : t.values) {
        if (!v.empty()) v += ",";
        v += symbols.view(s);
      }
      return v;
    };
    switch (t.op) {
      case SelectorOperator::In:
        out += t.values.size() == 1 ? key + "=" + values() : key + " in (" + values() + ")";
        break;
      case SelectorOperator::NotIn:
        out += key + " notin (" + values() + ")";
        break;
      case SelectorOperator::Exists:
        out += key;
        break;
      case SelectorOperator::DoesNotExist:
        out += "!" + key;
        break;
    }
  }
  return out;
}

}  // namespace palisade::policy
