#include <algorithm>

#include "policy/evaluate/evaluate.h"

namespace palisade::policy {

std::string ClusterRuleRef::str() const {
  std::string out = std::string(tierName(tier)) + " " + clusterPolicyKindName(kind) + " " + policy +
                    " rule " + std::to_string(rule_index);
  if (!rule_name.empty()) out += " \"" + rule_name + "\"";
  return out + " (" + actionName(action) + ")";
}

std::string DirectionVerdict::describe() const {
  std::string passes;
  for (const ClusterRuleRef& p : passed) passes += "; passed by " + p.str();
  if (decided_by) {
    return (outcome == Outcome::Denied ? "denied by " : "accepted by ") + decided_by->str() +
           passes;
  }
  return describeNetworkPolicy() + passes;
}

std::string DirectionVerdict::describeNetworkPolicy() const {
  auto list = [](const std::vector<PolicyName>& names) {
    std::string out = "[";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out += ", ";
      out += names[i].str();
    }
    return out + "]";
  };
  switch (outcome) {
    case Outcome::NotIsolated:
      return "not isolated";
    case Outcome::NotEnforced:
      return "not enforced: " + note;
    case Outcome::Allowed: {
      std::string out = "allowed by ";
      for (size_t i = 0; i < allowed_by.size(); ++i) {
        if (i > 0) out += ", ";
        out += allowed_by[i].policy.str() + " rule " + std::to_string(allowed_by[i].rule_index);
      }
      return out;
    }
    case Outcome::Denied:
      return "denied: isolated by " + list(isolated_by) + ", no rule matched";
  }
  return "";
}

}  // namespace palisade::policy
