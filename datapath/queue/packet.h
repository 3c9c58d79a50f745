#pragma once
// datapath::queue packet parser: the first bytes of a queued packet (NFQUEUE
// copies only the headers) → addresses, L4 protocol and ports.
//
// Untrusted input: every length is checked against the bytes we actually have,
// nothing allocates, nothing throws. A packet we cannot read yields a
// ParseError (and the consumer a verdict), never a crash.
//
//   IPv4:  [ver/ihl][tos][total len][id][flags/frag off][ttl][proto][csum][src][dst][options]
//   IPv6:  [ver/tc/flow][payload len][next hdr][hop][src 16][dst 16]
//          then extension headers (hop-by-hop, routing, destination options,
//          fragment, AH, mobility, HIP, shim6) chained by their next-header byte
//   L4:    TCP/UDP/SCTP: source and destination port in the first 4 bytes
//          ICMP/ICMPv6:  type, code
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace palisade::datapath::queue {

enum class ParseError : uint8_t {
  None,
  Empty,               // no bytes at all
  BadVersion,          // neither 4 nor 6 in the version nibble
  TruncatedIp,         // fewer bytes than the fixed IP header (or IHL says)
  BadHeaderLength,     // IPv4 IHL < 5, or total length shorter than the header
  TruncatedExtension,  // an IPv6 extension header runs past the bytes we have
  TooManyExtensions,   // more extension headers than any sane packet carries
  TruncatedL4,         // the transport header runs past the bytes we have
};

std::string_view parseErrorName(ParseError e);

struct Address {
  uint8_t family = 0;      // 4 or 6
  uint8_t bytes[16] = {};  // network order; IPv4 uses the first 4
  /// IPv4 in host order (family 4 only).
  uint32_t v4() const {
    return (uint32_t(bytes[0]) << 24) | (uint32_t(bytes[1]) << 16) | (uint32_t(bytes[2]) << 8) |
           bytes[3];
  }
  bool operator==(const Address&) const = default;
};

struct PacketInfo {
  Address src;
  Address dst;
  uint8_t protocol = 0;    // final upper-layer protocol (after IPv6 extension headers)
  bool has_ports = false;  // TCP, UDP, UDP-Lite, SCTP with their header present
  uint16_t src_port = 0;   // host order
  uint16_t dst_port = 0;
  bool has_icmp = false;  // ICMP or ICMPv6 with type and code present
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint8_t tcp_flags = 0;        // TCP only (SYN = 0x02, ACK = 0x10)
  bool later_fragment = false;  // a non-first fragment: no transport header to read
  uint16_t l3_length = 0;       // IP header(s) incl. IPv6 extensions, in bytes
};

/// Parses an IP packet starting at its network header. On error, `out` holds
/// whatever was read before the error (addresses when the IP header was whole).
ParseError parsePacket(std::span<const uint8_t> bytes, PacketInfo& out);

/// "tcp 10.0.0.1:3456 -> 10.0.0.2:80" for logs and reasons.
std::string formatPacket(const PacketInfo& p);

}  // namespace palisade::datapath::queue
