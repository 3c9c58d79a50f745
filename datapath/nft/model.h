#pragma once
// The nftables object model of table `inet palisade`: what the renderer
// produces from an ir::Ruleset, what the readback reconstructs from the
// kernel, what the diff compares and what both the batch builder (libnftnl)
// and the text renderer (nft syntax) lower. Plain values, no libnftnl types,
// so every stage is testable without the kernel.
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace palisade::datapath::nft {

using U128 = unsigned __int128;

/// Key of a set or map. Values are kept as integers in host order:
///  Ipv4: the address; Ipv6: the address (high:low); ProtoService: proto << 16 | port.
enum class KeyType : uint8_t { Ipv4, Ipv6, ProtoService };

/// An inclusive interval of key values.
struct Range {
  U128 first = 0;
  U128 last = 0;
  bool operator==(const Range&) const = default;
  auto operator<=>(const Range& o) const {
    if (first != o.first)
      return first < o.first ? std::strong_ordering::less : std::strong_ordering::greater;
    if (last != o.last)
      return last < o.last ? std::strong_ordering::less : std::strong_ordering::greater;
    return std::strong_ordering::equal;
  }
};

/// A dispatch entry: jump (or, `go`, goto) to `chain`; `origin` names the pod
/// (for errors). The entry maps jump, so the program's `return` comes back to
/// the base chain; the cluster tiers' stage maps go to (the stage replaces the
/// Admin program that Passed, DESIGN.md §8).
struct Jump {
  std::string chain;
  std::string origin;
  bool go = false;
  bool operator==(const Jump& o) const {  // origin is not state
    return chain == o.chain && go == o.go;
  }
};

/// An interval set (peers, node addresses, ports), a hash set of single
/// addresses (peer sets of pods: one hash lookup per packet instead of a tree
/// walk) or a verdict map (dispatch).
struct SetModel {
  std::string name;
  KeyType key = KeyType::Ipv4;
  bool is_map = false;
  bool interval = true;        // sets: false = hash set, every range one key (first == last)
  std::vector<Range> ranges;   // sets: sorted, non-overlapping (interval: non-adjacent too)
  std::map<U128, Jump> jumps;  // maps: address → program chain
  std::string origin;          // the IR object behind it, for error messages

  bool operator==(const SetModel& o) const {
    return name == o.name && key == o.key && is_map == o.is_map && interval == o.interval &&
           ranges == o.ranges && jumps == o.jumps;
  }
  size_t elementCount() const { return is_map ? jumps.size() : ranges.size(); }
};

enum class Family : uint8_t { Any, Ip, Ip6 };
enum class Addr : uint8_t { Saddr, Daddr };

/// Where a queue rule sends packets: NFQUEUE queues first .. first + count - 1
/// (spread by CPU when count > 1). bypass: accept when no consumer is bound
/// (fail-open); native: the nft `queue` expression rather than the xtables
/// NFQUEUE target through nft_compat (see queue_expr.h).
struct QueueTarget {
  uint16_t first = 0;
  uint16_t count = 1;
  bool bypass = false;
  bool native = false;
  bool operator==(const QueueTarget&) const = default;
};

/// One rule, at the level of meaning; lowered to expressions by batch.cpp and
/// to nft syntax by text.cpp (the two must agree: a kernel test compares).
struct RuleModel {
  enum class Kind : uint8_t {
    CtEstablishedAccept,       // ct state established,related accept
    NeighbourDiscoveryAccept,  // ip6 hoplimit 255 icmpv6 type 133-137 accept
    AddrInSetAccept,           // ip saddr @node_v4 accept
    DispatchVmap,              // ip saddr vmap @egress_dispatch_v4
    AllowReturn,               // [ip saddr @peers] [meta l4proto . th dport @ports] return
    DenyDrop,                  // counter drop
    // The cluster tiers' programs (DESIGN.md §8): Deny drops silently whatever
    // --deny-action says; Pass, and the end of an Admin program, go on to
    // the next stage of the direction.
    MatchDrop,        // [ip saddr @peers] [meta l4proto . th dport @ports] counter drop
    MatchGoto,        // [ip saddr @peers] [meta l4proto . th dport @ports] goto <target>
    DenyRejectTcp,    // meta l4proto tcp counter reject with tcp reset
    DenyRejectOther,  // counter reject with icmpx admin-prohibited
    // The packet queue (datapath/queue). Each starts `ct state new`: established
    // and related were accepted by the first rule, and an invalid or untracked
    // packet is no new connection to decide.
    QueueUnknown,      // ip saddr @pod_cidrs_v4 ip saddr != @known_v4 queue (pending pods)
    QueueAddrInSet,    // ip saddr @pods_v4 queue (user-space mode: every local pod)
    QueueServicePort,  // ip daddr @service_vips_v4 meta l4proto . th dport @service_ports queue
  };
  Kind kind = Kind::DenyDrop;
  Family family = Family::Any;
  Addr addr = Addr::Saddr;
  std::string set;       // peers / node / dispatch map; "" = any peer
  std::string ports;     // port set of AllowReturn and QueueServicePort; "" = any port
  std::string comment;   // shown by `nft list` (provenance)
  std::string origin;    // for error messages: "program 3 rule 1, policy x/allow-db"
  std::string unless{};  // QueueUnknown: the address must not be in this set
  QueueTarget queue{};   // Queue*: where the packet goes
  std::string target{};  // MatchGoto: the chain
  bool operator==(const RuleModel& o) const {
    return kind == o.kind && family == o.family && addr == o.addr && set == o.set &&
           ports == o.ports && comment == o.comment && unless == o.unless && queue == o.queue &&
           target == o.target;
  }
};

struct Hook {
  uint32_t num = 0;  // NF_INET_*
  int32_t priority = 0;
  bool operator==(const Hook&) const = default;
};

struct ChainModel {
  std::string name;
  std::optional<Hook> hook;  // set for base chains (type filter, policy accept)
  std::string comment;       // base chains carry their layout hash here (adopt compares it)
  std::vector<RuleModel> rules;
  std::string origin;
  /// Readback only: the digests of the rules the kernel holds (rule_digest.h)
  /// and the base chain's policy, so diff can see a flushed or edited chain.
  std::optional<std::vector<uint64_t>> rule_digests;
  std::optional<uint32_t> policy;
  /// Same name and same comment means same content: program chains are named by
  /// the hash of their content, base chains carry it in the comment.
  bool sameContent(const ChainModel& o) const { return name == o.name && comment == o.comment; }
};

constexpr uint32_t kChainPolicyAccept = 1;   // NF_ACCEPT: every base chain's policy
constexpr uint32_t kTableFlagOwner = 0x2;    // NFT_TABLE_F_OWNER
constexpr uint32_t kTableFlagPersist = 0x4;  // NFT_TABLE_F_PERSIST (kernel 6.9; header may lack it)

struct TableModel {
  std::string name = "palisade";
  uint32_t flags = 0;
  std::map<std::string, SetModel> sets;      // sets and maps, by name
  std::map<std::string, ChainModel> chains;  // base and program chains, by name
};

/// Well-known names.
inline constexpr const char* kTableName = "palisade";

/// ICMPv6 neighbour discovery types the base chains accept: router solicitation
/// (133) through redirect (137).
inline constexpr uint8_t kNdFirstType = 133;
inline constexpr uint8_t kNdLastType = 137;

/// 64-bit FNV-1a: stable across processes and builds (names live in the kernel).
inline uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace palisade::datapath::nft
