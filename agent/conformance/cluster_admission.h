#pragma once
// Admission of one case manifest (`initial`, `apply`, `reject`): what the API
// server with the experimental-channel CRDs and then the engine would do with
// it. The engine's part is the manifest reader and its validation, on the
// manifest's text; the API server's part is what a file reader cannot know
// or deliberately leaves out: an apiVersion is required, a namespaced object
// needs an existing namespace of the topology, a cluster-scoped one has none.
// Only the kinds of README section 3 are admitted.
#include "agent/conformance/cluster_case_file.h"
#include "policy/kinds/kinds.h"
#include "proto/base/result.h"

namespace palisade::agent::conformance {

/// The decoded object, or why it is refused: the reader's first diagnostic
/// ("ClusterNetworkPolicy p: spec.priority: priority 1001 is outside 0..1000")
/// or the API server's reason.
Result<policy::AnyObject> admitManifest(const CaseManifest& manifest, const Topology& topology);

}  // namespace palisade::agent::conformance
