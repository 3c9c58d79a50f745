#pragma once
// The pieces render() assembles a table from, one IR object at a time. The
// delta path (delta_plan.h) renders only the objects a pod change touches with
// the same pieces, so an object gets the same name and the same shape whether
// it came from a full render or from a delta: the kernel must end up exactly
// where a full render of the same ruleset would put it.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "datapath/nft/model.h"
#include "datapath/nft/render.h"
#include "proto/base/result.h"

namespace palisade::datapath::nft {

/// The names render() gave the IR objects of one ruleset, and the peer set
/// ids behind each peer hash (so a later delta can tell whether a new set
/// would take a suffix an existing one has: then it cannot be a delta).
struct RenderNames {
  std::unordered_map<uint32_t, std::string> port_set;  // port set id → set name
  /// Referenced peer set id → base name; the sets are <base>_v4 and <base>_v6.
  /// Peer sets no rule references are not rendered and have no name.
  std::unordered_map<uint32_t, std::string> peer_set;
  std::map<std::string, std::vector<uint32_t>> peer_hash;  // "peers_<hash>" → ids, sorted
  std::unordered_map<uint32_t, std::string> chain;         // program id → chain name
};

/// 12 hex digits of a hash (names must stay short: nft limits them).
std::string hex12(uint64_t h);
/// A comment nft accepts (length, no quotes).
std::string clip(std::string s);
/// The identity of a rule for content hashes (origin excluded).
std::string ruleKey(const RuleModel& r);
/// Sorts and merges overlapping and adjacent intervals; never across protocols.
std::vector<Range> normalize(std::vector<Range> ranges, KeyType key);

const char* directionName(ir::Direction d);
Range cidrRange(const ir::Ipv4Cidr& c);
Range cidrRange(const ir::Ipv6Cidr& c);

/// A port set, named by its content: ports_<hash of the normalized ranges>.
Result<SetModel> renderPortSet(const ir::PortSet& ps);

/// "peers_<hash of the set's key>" (ir::PeerSet.key: what the set is, so the
/// name stays when rules come to use the set or stop using it, and is the
/// same after a recompile); the rare sets with equal hashes get suffixes
/// _1, _2 ... by id. A set without a key (hand-built IR) hashes its description.
std::string peerHashName(const ir::PeerSet& ps);
std::string peerSetName(const std::string& hash_name, size_t rank);
/// The v4 and v6 sets of a peer set named `name` (base name, without _v4/_v6).
std::pair<SetModel, SetModel> renderPeerSet(const ir::PeerSet& ps, const std::string& name,
                                            const std::string& origin);
/// "program 3 rule 1, policy ns/name": the IR object behind a rule or set.
std::string ruleOrigin(const ir::Program& prog, int rule_index);

/// A program's chain, named by its content. Every port and peer set it
/// references must already be in `names`.
Result<ChainModel> renderProgram(const ir::Program& prog, const RenderNames& names,
                                 DenyAction deny);

/// The node's own addresses as the node_v4 / node_v6 sets hold them (v6 with
/// its prefix), normalized.
std::pair<std::vector<Range>, std::vector<Range>> nodeAddressRanges(const ir::NodeInfo& node);

/// A local pod's programs for one direction, stage by stage (0 = none).
struct DirectionPrograms {
  uint32_t admin = 0, np = 0, baseline = 0;
  bool operator==(const DirectionPrograms&) const = default;
};
DirectionPrograms directionPrograms(const ir::Endpoint& ep, ir::Direction d);

/// One dispatch map of a direction (`map` without its _v4/_v6 suffix) and the
/// program a pod's entry in it points to (0 = no entry).
struct StageEntry {
  std::string map;
  uint32_t program = 0;
  bool go = false;  // a goto entry (the stage maps), not a jump
};
/// The maps that route one direction through its stages (DESIGN.md §8):
/// `<dir>_dispatch` jumps to the pod's first stage (Admin, else NetworkPolicy,
/// else Baseline program), so a program's `return` ends the direction;
/// `<dir>_np` and `<dir>_baseline` are where `after_admin_<dir>` goes when
/// the Admin program passes.
std::array<StageEntry, 3> stageEntries(ir::Direction d, const DirectionPrograms& p);
/// "after_admin_<dir>": where an Admin program's Pass and its end go.
std::string stageChainName(ir::Direction d);
/// That chain: a goto through `<dir>_np`, else `<dir>_baseline`, else return.
ChainModel renderStageChain(ir::Direction d);

/// "pod ns/name": the origin of a dispatch entry.
std::string endpointOrigin(const ir::Endpoint& ep);

}  // namespace palisade::datapath::nft
