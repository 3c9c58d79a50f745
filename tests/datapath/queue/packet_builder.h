#pragma once
// Crafted packets for the queue tests: IPv4/IPv6 headers, IPv6 extension
// headers and transport headers, byte by byte, so tests can cut or corrupt them.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

namespace palisade::datapath::queue::testing {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

/// Transport header: ports (TCP/UDP/SCTP) or type/code (ICMP), padded to its size.
inline Bytes l4Header(uint8_t proto, uint16_t sport, uint16_t dport, uint8_t tcp_flags = 0x02) {
  Bytes b;
  switch (proto) {
    case IPPROTO_TCP:
      put16(b, sport), put16(b, dport);
      b.resize(20, 0);
      b[12] = 0x50;
      b[13] = tcp_flags;
      break;
    case IPPROTO_UDP:
      put16(b, sport), put16(b, dport), put16(b, 8), put16(b, 0);
      break;
    case IPPROTO_SCTP:  // common header: ports, verification tag, checksum
      put16(b, sport), put16(b, dport);
      b.resize(12, 0);
      break;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:  // sport = type, dport = code
      b = {uint8_t(sport), uint8_t(dport), 0, 0, 0, 0, 0, 0};
      break;
    default:
      b.resize(8, 0xab);
  }
  return b;
}

inline Bytes ipv4(const std::string& src, const std::string& dst, uint8_t proto,
                  const Bytes& payload, uint16_t frag_off = 0, size_t options = 0) {
  Bytes b(20 + options, 0);
  b[0] = uint8_t(0x40 | ((20 + options) / 4));
  uint16_t total = uint16_t(b.size() + payload.size());
  b[2] = uint8_t(total >> 8), b[3] = uint8_t(total);
  b[6] = uint8_t(frag_off >> 8), b[7] = uint8_t(frag_off);
  b[8] = 64;
  b[9] = proto;
  inet_pton(AF_INET, src.c_str(), &b[12]);
  inet_pton(AF_INET, dst.c_str(), &b[16]);
  for (size_t i = 20; i < b.size(); ++i) b[i] = 1;  // NOP options
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

/// `chain` is the IPv6 next-header value followed by the extension headers
/// already serialised (use ext()); `payload` the transport header.
inline Bytes ipv6(const std::string& src, const std::string& dst, uint8_t first_nh,
                  const Bytes& exts_and_payload) {
  Bytes b(40, 0);
  b[0] = 0x60;
  uint16_t len = uint16_t(exts_and_payload.size());
  b[4] = uint8_t(len >> 8), b[5] = uint8_t(len);
  b[6] = first_nh;
  b[7] = 64;
  inet_pton(AF_INET6, src.c_str(), &b[8]);
  inet_pton(AF_INET6, dst.c_str(), &b[24]);
  b.insert(b.end(), exts_and_payload.begin(), exts_and_payload.end());
  return b;
}

/// One extension header of `type` whose next header is `next`, `units` long
/// in its own length unit (8 bytes, or 4 for AH).
inline Bytes ext(uint8_t type, uint8_t next, uint8_t units = 0, uint16_t frag_off = 0) {
  Bytes b;
  if (type == IPPROTO_FRAGMENT) {
    b = {next, 0, uint8_t(frag_off >> 8), uint8_t(frag_off), 0, 0, 0, 1};
    return b;
  }
  size_t len = type == IPPROTO_AH ? (size_t(units) + 2) * 4 : (size_t(units) + 1) * 8;
  b.assign(len, 0);
  b[0] = next;
  b[1] = units;
  return b;
}

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace palisade::datapath::queue::testing
