#include "policy/net/ip.h"

#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

Cidr C(std::string_view text) {
  auto c = Cidr::parse(text, false);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(Cidr());
}

IpAddress A(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress());
}

std::vector<std::string> strs(const std::vector<Cidr>& cidrs) {
  std::vector<std::string> out;
  for (const Cidr& c : cidrs) out.push_back(c.toString());
  return out;
}

using Strings = std::vector<std::string>;

TEST(IpAddress, ParsesV4) {
  auto a = IpAddress::parse("10.1.2.3");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV4());
  EXPECT_EQ(a->v4Value(), 0x0a010203u);
  EXPECT_EQ(a->bits(), 32u);
  EXPECT_EQ(a->toString(), "10.1.2.3");
  EXPECT_EQ(IpAddress::parse("0.0.0.0")->toString(), "0.0.0.0");
  EXPECT_EQ(IpAddress::parse("255.255.255.255")->v4Value(), 0xffffffffu);
}

TEST(IpAddress, ParsesV6) {
  auto a = IpAddress::parse("fd00::1");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->isV4());
  EXPECT_EQ(a->high(), 0xfd00000000000000ull);
  EXPECT_EQ(a->low(), 1u);
  EXPECT_EQ(a->toString(), "fd00::1");
  EXPECT_EQ(IpAddress::parse("2001:0db8:0000:0000:0000:0000:0000:0001")->toString(), "2001:db8::1");
  EXPECT_EQ(IpAddress::parse("::")->toString(), "::");
  EXPECT_EQ(IpAddress::parse("::ffff:1.2.3.4")->family(), Family::V6);
}

TEST(IpAddress, RejectsInvalid) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/8", "a.b.c.d", " 1.2.3.4",
                          "1.2.3.4 ", "fd00::1::2", "fd00::g", "fe80::1%eth0", "::1/128",
                          "0000000000000000000000000000000000000000000000000000000001.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(IpAddress, OrdersNumericallyAndByFamily) {
  EXPECT_LT(A("9.0.0.0"), A("10.0.0.0"));
  EXPECT_LT(A("10.0.0.255"), A("10.0.1.0"));
  EXPECT_LT(A("255.255.255.255"), A("::"));
  EXPECT_LT(A("fd00::1"), A("fd00::2"));
  EXPECT_EQ(A("fd00::1"), A("fd00:0::1"));
}

TEST(Cidr, ParsesAndFormats) {
  EXPECT_EQ(C("10.0.0.0/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(C("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(C("10.1.2.3/32").toString(), "10.1.2.3/32");
  EXPECT_EQ(C("fd00::/64").toString(), "fd00::/64");
  EXPECT_EQ(C("::/0").toString(), "::/0");
  EXPECT_EQ(C("fd00::1/128").toString(), "fd00::1/128");
  EXPECT_EQ(C("10.0.0.0/8").prefixLen(), 8u);
}

TEST(Cidr, HostBitsAreMaskedOrRejected) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->toString(), "10.0.0.0/8");
  EXPECT_FALSE(Cidr::parse("10.1.2.3/8", /*allow_host_bits=*/false));
  EXPECT_EQ(Cidr::parse("fd00::ffff/64")->toString(), "fd00::/64");
  EXPECT_FALSE(Cidr::parse("fd00::ffff/64", false));
}

TEST(Cidr, RejectsInvalid) {
  for (const char* bad :
       {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08",
        "10.0.0.0/8/8", "/8", "fd00::/129", "fd00::/1000", "x/8", "10.0.0.0/ 8"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(Cidr, CreateMasks) {
  EXPECT_EQ(Cidr::create(A("10.1.2.3"), 16)->toString(), "10.1.0.0/16");
  EXPECT_EQ(Cidr::create(A("10.1.2.3"), 0)->toString(), "0.0.0.0/0");
  EXPECT_FALSE(Cidr::create(A("10.1.2.3"), 33));
  EXPECT_EQ(Cidr::create(A("fd00::1"), 0)->toString(), "::/0");
  EXPECT_EQ(Cidr::create(A("fd00:1:2:3:4:5:6:7"), 65)->toString(), "fd00:1:2:3::/65");
  EXPECT_FALSE(Cidr::create(A("fd00::1"), 129));
}

TEST(Cidr, HostAndLast) {
  EXPECT_EQ(Cidr::host(A("10.1.2.3")).toString(), "10.1.2.3/32");
  EXPECT_EQ(Cidr::host(A("fd00::7")).toString(), "fd00::7/128");
  EXPECT_EQ(C("10.0.0.0/8").last().toString(), "10.255.255.255");
  EXPECT_EQ(C("0.0.0.0/0").last().toString(), "255.255.255.255");
  EXPECT_EQ(C("10.1.2.3/32").last().toString(), "10.1.2.3");
  EXPECT_EQ(C("fd00::/64").last().toString(), "fd00::ffff:ffff:ffff:ffff");
  EXPECT_EQ(C("::/0").last().toString(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(C("fd00::/8").first().toString(), "fd00::");
}

TEST(Cidr, Contains) {
  EXPECT_TRUE(C("10.0.0.0/8").contains(A("10.255.0.1")));
  EXPECT_FALSE(C("10.0.0.0/8").contains(A("11.0.0.0")));
  EXPECT_TRUE(C("0.0.0.0/0").contains(A("1.2.3.4")));
  EXPECT_FALSE(C("0.0.0.0/0").contains(A("::1")));  // families never mix
  EXPECT_TRUE(C("::/0").contains(A("::1")));
  EXPECT_FALSE(C("::/0").contains(A("1.2.3.4")));
  EXPECT_TRUE(C("10.1.2.3/32").contains(A("10.1.2.3")));
  EXPECT_FALSE(C("10.1.2.3/32").contains(A("10.1.2.4")));
  EXPECT_TRUE(C("fd00::/64").contains(A("fd00::ffff")));
  EXPECT_FALSE(C("fd00::/64").contains(A("fd00:0:0:1::")));
  EXPECT_TRUE(C("fd00::1/128").contains(A("fd00::1")));

  EXPECT_TRUE(C("10.0.0.0/8").contains(C("10.1.0.0/16")));
  EXPECT_TRUE(C("10.0.0.0/8").contains(C("10.0.0.0/8")));
  EXPECT_FALSE(C("10.1.0.0/16").contains(C("10.0.0.0/8")));
  EXPECT_FALSE(C("10.0.0.0/8").contains(C("11.0.0.0/16")));
  EXPECT_FALSE(C("0.0.0.0/0").contains(C("::/0")));
}

TEST(SubtractCidrs, NoExcepts) {
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/8"), {})), Strings{"10.0.0.0/8"});
}

TEST(SubtractCidrs, OneExcept) {
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/8"), {C("10.0.0.0/9")})), Strings{"10.128.0.0/9"});
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/30"), {C("10.0.0.1/32")})),
            (Strings{"10.0.0.0/32", "10.0.0.2/31"}));
}

TEST(SubtractCidrs, ExceptEqualToBaseLeavesNothing) {
  EXPECT_TRUE(subtractCidrs(C("10.0.0.0/8"), {C("10.0.0.0/8")}).empty());
  EXPECT_TRUE(subtractCidrs(C("fd00::/64"), {C("fd00::/64")}).empty());
  EXPECT_TRUE(subtractCidrs(C("10.0.0.0/8"), {C("0.0.0.0/0")}).empty());
}

TEST(SubtractCidrs, SeveralExcepts) {
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/24"), {C("10.0.0.0/26"), C("10.0.0.192/26")})),
            (Strings{"10.0.0.64/26", "10.0.0.128/26"}));
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/29"), {C("10.0.0.7/32"), C("10.0.0.1/32")})),
            (Strings{"10.0.0.0/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}));
}

TEST(SubtractCidrs, NestedExcepts) {
  // The inner except lies inside the outer one: the result is as if only the outer existed.
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/8"), {C("10.0.0.0/9"), C("10.1.0.0/16")})),
            Strings{"10.128.0.0/9"});
}

TEST(SubtractCidrs, IgnoresOtherFamilyAndOutsideExcepts) {
  EXPECT_EQ(strs(subtractCidrs(C("10.0.0.0/8"), {C("fd00::/8"), C("11.0.0.0/8")})),
            Strings{"10.0.0.0/8"});
}

TEST(SubtractCidrs, WholeSpaceV4AndV6) {
  EXPECT_EQ(strs(subtractCidrs(C("0.0.0.0/0"), {C("128.0.0.0/1")})), Strings{"0.0.0.0/1"});
  EXPECT_EQ(strs(subtractCidrs(C("0.0.0.0/0"), {C("0.0.0.0/32")})).size(), 32u);
  auto v6 = subtractCidrs(C("::/0"), {C("::1/128")});
  EXPECT_EQ(v6.size(), 128u);
  EXPECT_EQ(v6.front().toString(), "::/128");
  EXPECT_EQ(v6.back().toString(), "8000::/1");
  EXPECT_TRUE(std::is_sorted(v6.begin(), v6.end()));
}

TEST(SubtractCidrs, V6) {
  EXPECT_EQ(strs(subtractCidrs(C("fd00::/126"), {C("fd00::2/128")})),
            (Strings{"fd00::/127", "fd00::3/128"}));
}

TEST(CanonicalizeCidrs, DedupesDropsCoveredMergesSiblings) {
  EXPECT_TRUE(canonicalizeCidrs({}).empty());
  EXPECT_EQ(strs(canonicalizeCidrs({C("10.0.0.0/8"), C("10.0.0.0/8")})), Strings{"10.0.0.0/8"});
  EXPECT_EQ(strs(canonicalizeCidrs({C("10.1.0.0/16"), C("10.0.0.0/8")})), Strings{"10.0.0.0/8"});
  EXPECT_EQ(strs(canonicalizeCidrs({C("10.0.0.1/32"), C("10.0.0.0/32")})), Strings{"10.0.0.0/31"});
  // Cascading merge: /25 + /26 + /26 -> /24.
  EXPECT_EQ(strs(canonicalizeCidrs({C("10.0.0.192/26"), C("10.0.0.0/25"), C("10.0.0.128/26")})),
            Strings{"10.0.0.0/24"});
  // Adjacent but not siblings: stay apart.
  EXPECT_EQ(strs(canonicalizeCidrs({C("10.0.0.1/32"), C("10.0.0.2/32")})),
            (Strings{"10.0.0.1/32", "10.0.0.2/32"}));
  EXPECT_EQ(strs(canonicalizeCidrs({C("0.0.0.0/1"), C("128.0.0.0/1")})), Strings{"0.0.0.0/0"});
}

TEST(CanonicalizeCidrs, KeepsFamiliesApart) {
  EXPECT_EQ(strs(canonicalizeCidrs(
                {C("fd00::1/128"), C("10.0.0.0/8"), C("fd00::/128"), C("::/1"), C("8000::/1")})),
            (Strings{"10.0.0.0/8", "::/0"}));
}

TEST(CanonicalizeCidrs, InvertsSubtraction) {
  auto pieces = subtractCidrs(C("10.0.0.0/16"), {C("10.0.3.4/32"), C("10.0.128.0/20")});
  pieces.push_back(C("10.0.3.4/32"));
  pieces.push_back(C("10.0.128.0/20"));
  EXPECT_EQ(strs(canonicalizeCidrs(pieces)), Strings{"10.0.0.0/16"});
}

}  // namespace
}  // namespace palisade::policy
