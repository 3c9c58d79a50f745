#include "datapath/nft/text.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include "datapath/nft/set_order.h"

namespace palisade::datapath::nft {
namespace {

const char* typeName(KeyType k) {
  switch (k) {
    case KeyType::Ipv4:
      return "ipv4_addr";
    case KeyType::Ipv6:
      return "ipv6_addr";
    case KeyType::ProtoService:
      return "inet_proto . inet_service";
  }
  return "?";
}

std::string protoName(uint32_t p) {
  switch (p) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 132:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

/// The prefix length when [first, last] is exactly one prefix, else -1.
int prefixLen(const Range& r, int bits) {
  U128 size = r.last - r.first;  // a prefix spans 2^k - 1 past its first address
  if (((size + 1) & size) != 0 || (r.first & size) != 0) return -1;
  int host = 0;
  while (host < bits && ((size >> host) & 1)) ++host;
  return bits - host;
}

const char* hookName(uint32_t num) {
  switch (num) {
    case NF_INET_PRE_ROUTING:
      return "prerouting";
    case NF_INET_LOCAL_IN:
      return "input";
    case NF_INET_FORWARD:
      return "forward";
    case NF_INET_LOCAL_OUT:
      return "output";
    case NF_INET_POST_ROUTING:
      return "postrouting";
  }
  return "?";
}

/// nft prints standard priorities symbolically, relative to the nearest one.
std::string priorityText(uint32_t hook, int32_t prio) {
  struct Named {
    const char* name;
    int32_t value;
  };
  static constexpr std::array<Named, 4> kNames{
      {{"raw", -300}, {"mangle", -150}, {"filter", 0}, {"security", 50}}};
  std::string best;
  int32_t best_off = 0;
  auto consider = [&](const char* n, int32_t v) {
    int32_t off = prio - v;
    if (off >= -10 && off <= 10 && (best.empty() || std::abs(off) < std::abs(best_off))) {
      best = n;
      best_off = off;
    }
  };
  for (const auto& n : kNames) consider(n.name, n.value);
  // nft accepts srcnat/dstnat only on the hooks where NAT runs them.
  if (hook == NF_INET_POST_ROUTING) consider("srcnat", 100);
  if (hook == NF_INET_PRE_ROUTING) consider("dstnat", -100);
  if (best.empty()) return std::to_string(prio);
  if (best_off == 0) return best;
  return best + (best_off > 0 ? " + " : " - ") + std::to_string(std::abs(best_off));
}

std::string queueText(const QueueTarget& q) {
  std::string flags;
  if (q.bypass) flags = "bypass";
  if (q.count > 1) flags += flags.empty() ? "fanout" : ",fanout";
  std::string s = "queue ";
  if (!flags.empty()) s += "flags " + flags + " ";
  s += "to " + std::to_string(q.first);
  if (q.count > 1) s += "-" + std::to_string(q.first + q.count - 1);
  return s;
}

std::string ruleText(const RuleModel& r) {
  using K = RuleModel::Kind;
  const char* fam = r.family == Family::Ip6 ? "ip6" : "ip";
  const char* addr = r.addr == Addr::Saddr ? "saddr" : "daddr";
  std::string s;
  switch (r.kind) {
    case K::CtEstablishedAccept:
      s = "ct state established,related accept";
      break;
    case K::NeighbourDiscoveryAccept:
      s = "ip6 hoplimit 255 icmpv6 type " + std::to_string(kNdFirstType) + "-" +
          std::to_string(kNdLastType) + " accept";
      break;
    case K::AddrInSetAccept:
      s = std::string(fam) + " " + addr + " @" + r.set + " accept";
      break;
    case K::DispatchVmap:
      s = std::string(fam) + " " + addr + " vmap @" + r.set;
      break;
    case K::AllowReturn:
    case K::MatchDrop:
    case K::MatchGoto:
      if (!r.set.empty()) s += std::string(fam) + " " + addr + " @" + r.set + " ";
      if (!r.ports.empty()) s += "meta l4proto . th dport @" + r.ports + " ";
      s += r.kind == K::AllowReturn ? "return"
           : r.kind == K::MatchDrop ? "counter drop"
                                    : "goto " + r.target;
      break;
    case K::DenyDrop:
      s = "counter drop";
      break;
    case K::DenyRejectTcp:
      s = "meta l4proto tcp counter reject with tcp reset";
      break;
    case K::DenyRejectOther:
      s = "counter reject with icmpx admin-prohibited";
      break;
    // The native `queue` statement. This kernel's nft cannot load it (no
    // native queue expression); the batch uses the xtables NFQUEUE target
    // there, which nft lists as `xt target "NFQUEUE"` and cannot load back either.
    case K::QueueUnknown:
      s = "ct state new " + std::string(fam) + " " + addr + " @" + r.set + " " + fam + " " + addr +
          " != @" + r.unless + " " + queueText(r.queue);
      break;
    case K::QueueAddrInSet:
      s = "ct state new " + std::string(fam) + " " + addr + " @" + r.set + " " + queueText(r.queue);
      break;
    case K::QueueServicePort:
      s = "ct state new " + std::string(fam) + " " + addr + " @" + r.set +
          " meta l4proto . th dport @" + r.ports + " " + queueText(r.queue);
      break;
  }
  if (!r.comment.empty()) s += " comment \"" + r.comment + "\"";
  return s;
}

}  // namespace

std::string formatKey(KeyType key, U128 v) {
  char buf[INET6_ADDRSTRLEN];
  switch (key) {
    case KeyType::Ipv4: {
      uint32_t be = htonl(static_cast<uint32_t>(v));
      return inet_ntop(AF_INET, &be, buf, sizeof buf);
    }
    case KeyType::Ipv6: {
      unsigned char b[16];
      for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(v >> (8 * (15 - i)));
      return inet_ntop(AF_INET6, b, buf, sizeof buf);
    }
    case KeyType::ProtoService:
      return protoName(static_cast<uint32_t>(v >> 16)) + " . " +
             std::to_string(static_cast<uint32_t>(v & 0xffff));
  }
  return "?";
}

std::string formatRange(KeyType key, const Range& r) {
  if (r.first == r.last) return formatKey(key, r.first);
  if (key == KeyType::ProtoService)
    return formatKey(key, r.first) + "-" + std::to_string(static_cast<uint32_t>(r.last & 0xffff));
  int bits = key == KeyType::Ipv4 ? 32 : 128;
  int len = prefixLen(r, bits);
  if (len >= 0) return formatKey(key, r.first) + "/" + std::to_string(len);
  return formatKey(key, r.first) + "-" + formatKey(key, r.last);
}

std::string renderText(const TableModel& t) {
  std::string out = "table inet " + t.name + " {\n";
  for (const SetModel* set : setsInCreationOrder(t)) {  // as `nft list` shows them
    const SetModel& s = *set;
    const std::string& name = s.name;
    out += std::string("\t") + (s.is_map ? "map " : "set ") + name + " {\n";
    out += std::string("\t\ttype ") + typeName(s.key) + (s.is_map ? " : verdict\n" : "\n");
    if (!s.is_map && s.interval) out += "\t\tflags interval\n";
    if (s.elementCount() > 0) {
      out += "\t\telements = { ";
      bool first = true;
      if (s.is_map) {
        for (const auto& [k, j] : s.jumps) {
          out += (first ? "" : ", ") + formatKey(s.key, k) + (j.go ? " : goto " : " : jump ") +
                 j.chain;
          first = false;
        }
      } else {
        for (const auto& r : s.ranges) {
          out += (first ? "" : ", ") + formatRange(s.key, r);
          first = false;
        }
      }
      out += " }\n";
    }
    out += "\t}\n";
  }
  for (const auto& [name, c] : t.chains) {
    out += "\tchain " + name + " {\n";
    if (!c.comment.empty()) out += "\t\tcomment \"" + c.comment + "\"\n";
    if (c.hook)
      out += std::string("\t\ttype filter hook ") + hookName(c.hook->num) + " priority " +
             priorityText(c.hook->num, c.hook->priority) + "; policy accept;\n";
    for (const auto& r : c.rules) out += "\t\t" + ruleText(r) + "\n";
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

}  // namespace palisade::datapath::nft
