#include "policy/net/ip.h"

#include <arpa/inet.h>  // inet_pton/inet_ntop: pure text conversion, no sockets

#include <algorithm>
#include <cstring>

namespace palisade::policy {
namespace {

// Prefix arithmetic is done on one 128-bit integer per address so IPv4 and
// IPv6 share every code path; IPv4 simply uses the low 32 bits.
using U128 = unsigned __int128;

U128 toU128(const IpAddress& a) { return (static_cast<U128>(a.high()) << 64) | a.low(); }

IpAddress fromU128(Family f, U128 v) {
  if (f == Family::V4) return IpAddress::v4(static_cast<uint32_t>(v));
  return IpAddress::v6(static_cast<uint64_t>(v >> 64), static_cast<uint64_t>(v));
}

/// Bits that are host bits for a prefix of `len` in a `width`-bit family.
U128 hostMask(unsigned width, unsigned len) {
  const unsigned host_bits = width - len;
  if (host_bits == 0) return 0;
  if (host_bits >= 128) return ~static_cast<U128>(0);
  return (static_cast<U128>(1) << host_bits) - 1;
}

bool overlaps(const Cidr& a, const Cidr& b) { return a.contains(b) || b.contains(a); }

/// Emits `prefix` minus `excepts` in address order by halving the prefix
/// until every piece is either untouched by or inside an except.
void subtractInto(const Cidr& prefix, const std::vector<Cidr>& excepts, std::vector<Cidr>& out) {
  bool touched = false;
  for (const Cidr& e : excepts) {
    if (e.contains(prefix)) return;
    if (prefix.contains(e)) touched = true;
  }
  if (!touched) {
    out.push_back(prefix);
    return;
  }
  const unsigned width = prefix.address().bits();
  const unsigned len = prefix.prefixLen() + 1;  // touched implies len < width
  const U128 base = toU128(prefix.address());
  const U128 upper = base | (static_cast<U128>(1) << (width - len));
  subtractInto(*Cidr::create(fromU128(prefix.family(), base), len), excepts, out);
  subtractInto(*Cidr::create(fromU128(prefix.family(), upper), len), excepts, out);
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // Longest valid textual IPv6 form is 45 characters; anything longer is invalid.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    in_addr a4{};
    if (inet_pton(AF_INET, buf, &a4) != 1) return std::nullopt;
    return IpAddress::v4(ntohl(a4.s_addr));
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, buf, &a6) != 1) return std::nullopt;
  uint64_t hi = 0;
  uint64_t lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | a6.s6_addr[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | a6.s6_addr[i];
  return IpAddress::v6(hi, lo);
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  if (isV4()) {
    in_addr a4{};
    a4.s_addr = htonl(v4Value());
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
  } else {
    in6_addr a6{};
    for (int i = 0; i < 8; ++i) a6.s6_addr[i] = static_cast<uint8_t>(hi_ >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) a6.s6_addr[8 + i] = static_cast<uint8_t>(lo_ >> (56 - 8 * i));
    inet_ntop(AF_INET6, &a6, buf, sizeof buf);
  }
  return buf;
}

std::optional<Cidr> Cidr::create(IpAddress address, unsigned prefix_len) {
  if (prefix_len > address.bits()) return std::nullopt;
  const U128 masked = toU128(address) & ~hostMask(address.bits(), prefix_len);
  return Cidr(fromU128(address.family(), masked), prefix_len);
}

std::optional<Cidr> Cidr::parse(std::string_view text, bool allow_host_bits) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const std::string_view len_text = text.substr(slash + 1);
  // Digits only, no sign and no leading zeros (as Go's net.ParseCIDR).
  if (len_text.empty() || len_text.size() > 3) return std::nullopt;
  if (len_text.size() > 1 && len_text[0] == '0') return std::nullopt;
  unsigned len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + static_cast<unsigned>(c - '0');
  }
  auto cidr = create(*address, len);
  if (!cidr) return std::nullopt;
  if (!allow_host_bits && cidr->address() != *address) return std::nullopt;
  return cidr;
}

Cidr Cidr::host(IpAddress address) { return Cidr(address, address.bits()); }

IpAddress Cidr::last() const {
  return fromU128(family(), toU128(address_) | hostMask(address_.bits(), prefix_len_));
}

bool Cidr::contains(IpAddress a) const {
  if (a.family() != family()) return false;
  const U128 mask = ~hostMask(a.bits(), prefix_len_);
  return (toU128(a) & mask) == toU128(address_);
}

bool Cidr::contains(const Cidr& other) const {
  return other.family() == family() && other.prefix_len_ >= prefix_len_ && contains(other.address_);
}

std::string Cidr::toString() const {
  return address_.toString() + "/" + std::to_string(prefix_len_);
}

std::vector<Cidr> subtractCidrs(const Cidr& base, const std::vector<Cidr>& excepts) {
  std::vector<Cidr> relevant;
  for (const Cidr& e : excepts) {
    if (overlaps(base, e)) relevant.push_back(e);
  }
  std::vector<Cidr> out;
  subtractInto(base, relevant, out);
  return out;
}

std::vector<Cidr> canonicalizeCidrs(std::vector<Cidr> cidrs) {
  // Sorted by (family, address, length): a covering prefix precedes what it covers.
  std::sort(cidrs.begin(), cidrs.end());
  std::vector<Cidr> out;
  out.reserve(cidrs.size());
  for (const Cidr& c : cidrs) {
    if (!out.empty() && out.back().contains(c)) continue;
    out.push_back(c);
    // Sorted and disjoint, so a mergeable sibling can only be the previous entry;
    // a merged parent may in turn merge with the entry before it.
    while (out.size() >= 2) {
      const Cidr& a = out[out.size() - 2];
      const Cidr& b = out.back();
      if (a.family() != b.family() || a.prefixLen() != b.prefixLen() || a.prefixLen() == 0) break;
      auto parent = Cidr::create(a.address(), a.prefixLen() - 1);
      if (!parent->contains(b)) break;
      out.pop_back();
      out.back() = *parent;
    }
  }
  return out;
}

}  // namespace palisade::policy
