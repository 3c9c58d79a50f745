#pragma once
// What a valid cluster-tier policy asks for that palisade does not enforce
// yet, as warnings for `palisade check` and the agent's log: domainNames peers
// (DESIGN.md §10) are parsed and validated, but until domain-name egress lands
// a rule whose peers are all domain names matches nothing, and the domain
// names of a mixed rule are ignored.
#include <vector>

#include "policy/manifest/reader.h"
#include "policy/model/diagnostic.h"

namespace palisade::policy {

/// One Diagnostic per affected rule (kind, object, field `spec.egress[i]`, the
/// object's location), in manifest order.
std::vector<Diagnostic> clusterPolicyWarnings(const ManifestSet& set);

}  // namespace palisade::policy
