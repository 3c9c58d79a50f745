#include "datapath/queue/packet.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace palisade::datapath::queue {
namespace {

// A packet with more than this many IPv6 extension headers is either an attack
// on parsers or broken; either way we stop rather than walk it.
constexpr int kMaxExtensions = 16;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

/// Transport header at `l4` with `avail` bytes; fills ports / ICMP fields.
ParseError parseL4(const uint8_t* l4, size_t avail, PacketInfo& out) {
  switch (out.protocol) {
    case IPPROTO_TCP:
      // Ports and flags: the flags byte is at offset 13.
      if (avail < 14) return ParseError::TruncatedL4;
      out.tcp_flags = l4[13];
      [[fallthrough]];
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
    case IPPROTO_SCTP:
      if (avail < 4) return ParseError::TruncatedL4;
      out.src_port = be16(l4);
      out.dst_port = be16(l4 + 2);
      out.has_ports = true;
      return ParseError::None;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (avail < 2) return ParseError::TruncatedL4;
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      out.has_icmp = true;
      return ParseError::None;
    default:
      return ParseError::None;  // other protocols: addresses and protocol only
  }
}

ParseError parseV4(const uint8_t* p, size_t n, PacketInfo& out) {
  if (n < 20) return ParseError::TruncatedIp;
  size_t ihl = size_t(p[0] & 0x0f) * 4;
  if (ihl < 20) return ParseError::BadHeaderLength;
  if (n < ihl) return ParseError::TruncatedIp;
  out.src.family = out.dst.family = 4;
  std::memcpy(out.src.bytes, p + 12, 4);
  std::memcpy(out.dst.bytes, p + 16, 4);
  out.protocol = p[9];
  out.l3_length = static_cast<uint16_t>(ihl);
  // Total length 0 is what a GSO super-packet larger than 64 KiB carries; the
  // copy range usually cuts the packet short, so only a total length shorter
  // than the header itself is malformed.
  size_t total = be16(p + 2);
  if (total != 0 && total < ihl) return ParseError::BadHeaderLength;
  size_t end = (total != 0 && total < n) ? total : n;
  if ((be16(p + 6) & 0x1fff) != 0) {
    out.later_fragment = true;  // the transport header is in the first fragment
    return ParseError::None;
  }
  return parseL4(p + ihl, end - ihl, out);
}

bool isExtension(uint8_t nh) {
  switch (nh) {
    case IPPROTO_HOPOPTS:
    case IPPROTO_ROUTING:
    case IPPROTO_FRAGMENT:
    case IPPROTO_DSTOPTS:
    case IPPROTO_AH:
    case 135:  // mobility
    case 139:  // HIP
    case 140:  // shim6
      return true;
    default:
      return false;
  }
}

ParseError parseV6(const uint8_t* p, size_t n, PacketInfo& out) {
  if (n < 40) return ParseError::TruncatedIp;
  out.src.family = out.dst.family = 6;
  std::memcpy(out.src.bytes, p + 8, 16);
  std::memcpy(out.dst.bytes, p + 24, 16);
  // Payload length 0 is a jumbogram or a GSO super-packet: use what we have.
  size_t payload = be16(p + 4);
  size_t end = (payload != 0 && 40 + payload < n) ? 40 + payload : n;
  uint8_t nh = p[6];
  size_t off = 40;
  for (int count = 0; isExtension(nh); ++count) {
    if (count == kMaxExtensions) return ParseError::TooManyExtensions;
    if (off + 8 > end) return ParseError::TruncatedExtension;
    const uint8_t* h = p + off;
    size_t len;
    if (nh == IPPROTO_FRAGMENT) {
      len = 8;
      if ((be16(h + 2) & 0xfff8) != 0) {  // fragment offset != 0
        out.protocol = h[0];
        out.l3_length = static_cast<uint16_t>(off + len);
        out.later_fragment = true;
        return ParseError::None;
      }
    } else if (nh == IPPROTO_AH) {
      len = (size_t(h[1]) + 2) * 4;  // AH counts 4-byte units, minus 2
    } else {
      len = (size_t(h[1]) + 1) * 8;  // the rest count 8-byte units, minus 1
    }
    if (off + len > end) return ParseError::TruncatedExtension;
    nh = h[0];
    off += len;
  }
  out.protocol = nh;
  out.l3_length = static_cast<uint16_t>(off);
  if (nh == IPPROTO_NONE) return ParseError::None;
  return parseL4(p + off, end - off, out);
}

}  // namespace

std::string_view parseErrorName(ParseError e) {
  switch (e) {
    case ParseError::None:
      return "ok";
    case ParseError::Empty:
      return "empty packet";
    case ParseError::BadVersion:
      return "not IPv4 or IPv6";
    case ParseError::TruncatedIp:
      return "truncated IP header";
    case ParseError::BadHeaderLength:
      return "bad IP header length";
    case ParseError::TruncatedExtension:
      return "truncated IPv6 extension header";
    case ParseError::TooManyExtensions:
      return "too many IPv6 extension headers";
    case ParseError::TruncatedL4:
      return "truncated transport header";
  }
  return "?";
}

ParseError parsePacket(std::span<const uint8_t> bytes, PacketInfo& out) {
  out = PacketInfo{};
  if (bytes.empty()) return ParseError::Empty;
  switch (bytes[0] >> 4) {
    case 4:
      return parseV4(bytes.data(), bytes.size(), out);
    case 6:
      return parseV6(bytes.data(), bytes.size(), out);
    default:
      return ParseError::BadVersion;
  }
}

std::string formatPacket(const PacketInfo& p) {
  char a[INET6_ADDRSTRLEN] = "?", b[INET6_ADDRSTRLEN] = "?";
  int af = p.src.family == 6 ? AF_INET6 : AF_INET;
  if (p.src.family) inet_ntop(af, p.src.bytes, a, sizeof a);
  if (p.dst.family) inet_ntop(af, p.dst.bytes, b, sizeof b);
  std::string proto;
  switch (p.protocol) {
    case IPPROTO_TCP:
      proto = "tcp";
      break;
    case IPPROTO_UDP:
      proto = "udp";
      break;
    case IPPROTO_SCTP:
      proto = "sctp";
      break;
    case IPPROTO_ICMP:
      proto = "icmp";
      break;
    case IPPROTO_ICMPV6:
      proto = "icmpv6";
      break;
    default:
      proto = "proto " + std::to_string(p.protocol);
  }
  auto host = [&](const char* addr, uint16_t port) {
    if (!p.has_ports) return std::string(addr);
    std::string s = af == AF_INET6 ? "[" + std::string(addr) + "]" : std::string(addr);
    return s + ":" + std::to_string(port);
  };
  std::string s = proto + " " + host(a, p.src_port) + " -> " + host(b, p.dst_port);
  if (p.has_icmp)
    s += " type " + std::to_string(p.icmp_type) + " code " + std::to_string(p.icmp_code);
  if (p.later_fragment) s += " (fragment)";
  return s;
}

}  // namespace palisade::datapath::queue
