#pragma once
// datapath::nft::renderDelta: ir::RulesetDelta(s) → the nft Delta (diff.h)
// that takes the kernel from the last programmed model to the model a full
// render of the new ruleset would give, rendering only what the deltas touch:
//
//   PeerSetDelta (pod address in/out) ──▶ elements of peers_<h>_v4/_v6, with the
//                                         intervals merged exactly as render merges them
//   upserted / removed endpoints      ──▶ dispatch map entries of their addresses
//   new programs, peer and port sets  ──▶ new chains and sets, named by render_parts
//
// Cost follows the size of the change, not of the cluster: no whole-ruleset
// render, no whole-model diff. Peer sets are named by their keys (what they
// select), so a new program using an existing set leaves its name alone. What
// a delta cannot express exactly — a new set whose hash an older one shares,
// two endpoints sharing an address (render keeps the first), an interval that
// is not where the IR says — makes renderDelta decline; the caller then takes
// the full path.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "datapath/nft/diff.h"
#include "datapath/nft/model.h"
#include "datapath/nft/render_parts.h"

namespace palisade::datapath::nft {

struct U128Hash {
  size_t operator()(U128 v) const {
    return std::hash<uint64_t>()(uint64_t(v)) * 31 + std::hash<uint64_t>()(uint64_t(v >> 64));
  }
};

/// One local endpoint as the dispatch maps hold it.
struct EndpointEntry {
  std::vector<U128> v4, v6;  // rendered keys
  DirectionPrograms ingress, egress;
  std::string origin;  // "pod ns/name"
};

/// What the delta path keeps between revisions, besides the model itself: the
/// names render gave, and the endpoints behind the dispatch entries (a removed
/// endpoint's addresses are not in the new ruleset). Built from a ruleset in
/// O(ruleset) after each full sync; updated in O(change) after each delta.
struct DeltaIndex {
  RenderNames names;
  std::unordered_map<std::string, EndpointEntry> endpoints;           // "ns/name"
  std::unordered_map<U128, uint32_t, U128Hash> claims_v4, claims_v6;  // address → endpoints
  size_t shared_addresses = 0;  // addresses with more than one endpoint (then: full path)

  static DeltaIndex build(const ir::Ruleset& ruleset, RenderNames names);
};

/// A planned change: the nft Delta, and the index as it is once the kernel acked it.
struct RenderedDelta {
  Delta delta;
  std::optional<RenderNames> names;  // set when new objects got names
  std::vector<std::pair<std::string, std::optional<EndpointEntry>>> endpoints;  // final state
};

/// Renders `deltas` (in order; they lead to `next`) against `model`, the
/// table the kernel holds, and `index`. Returns nullopt, with the reason in
/// `why_not`, when the change cannot be expressed exactly as a delta.
std::optional<RenderedDelta> renderDelta(const TableModel& model, const DeltaIndex& index,
                                         const ir::Ruleset& next,
                                         std::span<const ir::RulesetDelta> deltas, DenyAction deny,
                                         std::string& why_not);

/// Brings `index` to the state after `rendered` was programmed.
void commit(DeltaIndex& index, RenderedDelta&& rendered);

}  // namespace palisade::datapath::nft
