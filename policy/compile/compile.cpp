#include "policy/compile/compile.h"

#include "policy/compile/ruleset_builder.h"

namespace palisade::policy {

ir::Ruleset compile(const ClusterState& state, std::string_view node) {
  return RulesetBuilder(state, node).build();
}

}  // namespace palisade::policy
