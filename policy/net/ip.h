#pragma once
// IP addresses and CIDR prefixes as plain values (IPv4 and IPv6), with
// parsing, formatting and the prefix arithmetic the compiler needs
// (containment, "cidr minus excepts" as non-overlapping prefixes).
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace palisade::policy {

enum class Family : uint8_t { V4 = 4, V6 = 6 };

/// An IPv4 or IPv6 address. IPv4 lives in the low 32 bits of `lo`; IPv6 is
/// the two 64-bit halves in host byte order, so comparison is numeric.
class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(uint32_t host_order) { return IpAddress(Family::V4, 0, host_order); }
  static IpAddress v6(uint64_t high, uint64_t low) { return IpAddress(Family::V6, high, low); }
  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text; nullopt when invalid.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::V4; }
  uint32_t v4Value() const { return static_cast<uint32_t>(lo_); }
  uint64_t high() const { return hi_; }
  uint64_t low() const { return lo_; }
  unsigned bits() const { return isV4() ? 32 : 128; }
  std::string toString() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const IpAddress&) const = default;

 private:
  IpAddress(Family f, uint64_t hi, uint64_t lo) : family_(f), hi_(hi), lo_(lo) {}
  Family family_ = Family::V4;
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

/// A prefix with host bits zero. `create` validates; `parse` reads "a.b.c.d/n".
class Cidr {
 public:
  Cidr() = default;
  /// Masks host bits off. nullopt if prefix_len exceeds the family's width.
  static std::optional<Cidr> create(IpAddress address, unsigned prefix_len);
  /// Strict parse: "10.0.0.0/8", "fd00::/64". Host bits set is accepted only
  /// when `allow_host_bits` (the API server accepts "10.0.0.1/8" in ipBlock).
  static std::optional<Cidr> parse(std::string_view text, bool allow_host_bits = true);
  static Cidr host(IpAddress address);

  IpAddress address() const { return address_; }
  unsigned prefixLen() const { return prefix_len_; }
  Family family() const { return address_.family(); }
  IpAddress first() const { return address_; }
  IpAddress last() const;
  bool contains(IpAddress a) const;
  bool contains(const Cidr& other) const;
  std::string toString() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Cidr&) const = default;

 private:
  Cidr(IpAddress a, unsigned len) : address_(a), prefix_len_(len) {}
  IpAddress address_;
  unsigned prefix_len_ = 0;
};

/// `base` minus every `excepts` entry, as sorted non-overlapping prefixes.
/// Excepts of the other family or outside `base` are ignored.
std::vector<Cidr> subtractCidrs(const Cidr& base, const std::vector<Cidr>& excepts);

/// Sorts, drops prefixes covered by others, and merges sibling prefixes, so
/// the result is the canonical minimal set of non-overlapping prefixes.
std::vector<Cidr> canonicalizeCidrs(std::vector<Cidr> cidrs);

}  // namespace palisade::policy
