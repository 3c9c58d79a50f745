// The queue's packet parser on crafted packets: every protocol, IPv6
// extension headers, fragments, and truncated or malformed input. SCTP has no
// sockets in this kernel, so crafted packets are the only SCTP coverage.
#include "datapath/queue/packet.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/datapath/queue/packet_builder.h"

namespace palisade::datapath::queue {
namespace {

using namespace testing;  // NOLINT: the builders

ParseError parse(const Bytes& b, PacketInfo& out) { return parsePacket(b, out); }

struct ProtoCase {
  uint8_t proto;
  bool ports;
};

class PerProtocol : public ::testing::TestWithParam<ProtoCase> {};

TEST_P(PerProtocol, Ipv4) {
  auto [proto, ports] = GetParam();
  Bytes pkt = ipv4("10.1.2.3", "10.4.5.6", proto, l4Header(proto, 40000, 443));
  PacketInfo p;
  ASSERT_EQ(parse(pkt, p), ParseError::None);
  EXPECT_EQ(p.src.family, 4);
  EXPECT_EQ(p.src.v4(), 0x0a010203u);
  EXPECT_EQ(p.dst.v4(), 0x0a040506u);
  EXPECT_EQ(p.protocol, proto);
  EXPECT_EQ(p.has_ports, ports);
  if (ports) {
    EXPECT_EQ(p.src_port, 40000);
    EXPECT_EQ(p.dst_port, 443);
  }
  EXPECT_EQ(p.l3_length, 20);
}

TEST_P(PerProtocol, Ipv6) {
  auto [proto, ports] = GetParam();
  uint8_t p6 = proto == IPPROTO_ICMP ? uint8_t(IPPROTO_ICMPV6) : proto;
  Bytes pkt = ipv6("fd00::1", "fd00::2", p6, l4Header(p6, 40000, 443));
  PacketInfo p;
  ASSERT_EQ(parse(pkt, p), ParseError::None);
  EXPECT_EQ(p.src.family, 6);
  EXPECT_EQ(p.src.bytes[0], 0xfd);
  EXPECT_EQ(p.src.bytes[15], 1);
  EXPECT_EQ(p.dst.bytes[15], 2);
  EXPECT_EQ(p.protocol, p6);
  EXPECT_EQ(p.has_ports, ports);
  if (ports) {
    EXPECT_EQ(p.dst_port, 443);
  }
}

// Every prefix of a valid packet parses or fails cleanly, and a prefix that
// ends inside the transport header is reported as exactly that.
TEST_P(PerProtocol, EveryTruncationIsAnError) {
  auto [proto, ports] = GetParam();
  Bytes pkt = ipv4("10.1.2.3", "10.4.5.6", proto, l4Header(proto, 1, 2));
  size_t needed = proto == IPPROTO_TCP ? 14 : ports ? 4 : proto == IPPROTO_ICMP ? 2 : 0;
  for (size_t n = 0; n < pkt.size(); ++n) {
    PacketInfo p;
    ParseError e = parsePacket(std::span(pkt.data(), n), p);
    if (n == 0)
      EXPECT_EQ(e, ParseError::Empty);
    else if (n < 20)
      EXPECT_EQ(e, ParseError::TruncatedIp) << n;
    else if (n < 20 + needed)
      EXPECT_EQ(e, ParseError::TruncatedL4) << n;
    else
      EXPECT_EQ(e, ParseError::None) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Queue, PerProtocol,
                         ::testing::Values(ProtoCase{IPPROTO_TCP, true},
                                           ProtoCase{IPPROTO_UDP, true},
                                           ProtoCase{IPPROTO_SCTP, true},
                                           ProtoCase{IPPROTO_ICMP, false},
                                           ProtoCase{47 /* GRE */, false}),
                         [](const auto& info) { return std::to_string(info.param.proto); });

TEST(QueuePacket, TcpFlagsAndIcmpTypeCode) {
  PacketInfo p;
  ASSERT_EQ(parse(ipv4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, l4Header(IPPROTO_TCP, 1, 2, 0x12)), p),
            ParseError::None);
  EXPECT_EQ(p.tcp_flags, 0x12);
  ASSERT_EQ(parse(ipv4("1.1.1.1", "2.2.2.2", IPPROTO_ICMP, l4Header(IPPROTO_ICMP, 8, 0)), p),
            ParseError::None);
  EXPECT_TRUE(p.has_icmp);
  EXPECT_EQ(p.icmp_type, 8);
  ASSERT_EQ(parse(ipv6("::1", "::2", IPPROTO_ICMPV6, l4Header(IPPROTO_ICMPV6, 135, 0)), p),
            ParseError::None);
  EXPECT_EQ(p.icmp_type, 135);
}

TEST(QueuePacket, Ipv4OptionsMoveTheTransportHeader) {
  PacketInfo p;
  Bytes pkt = ipv4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, l4Header(IPPROTO_UDP, 53, 5353), 0, 8);
  ASSERT_EQ(parse(pkt, p), ParseError::None);
  EXPECT_EQ(p.l3_length, 28);
  EXPECT_EQ(p.src_port, 53);
  EXPECT_EQ(p.dst_port, 5353);
}

TEST(QueuePacket, Ipv4Fragments) {
  PacketInfo p;
  // First fragment (more-fragments set, offset 0): the ports are there.
  ASSERT_EQ(parse(ipv4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, l4Header(IPPROTO_UDP, 1, 2), 0x2000), p),
            ParseError::None);
  EXPECT_TRUE(p.has_ports);
  EXPECT_FALSE(p.later_fragment);
  // A later fragment carries no transport header, even if its bytes look like one.
  ASSERT_EQ(parse(ipv4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, Bytes{1, 2}, 0x0010), p),
            ParseError::None);
  EXPECT_TRUE(p.later_fragment);
  EXPECT_FALSE(p.has_ports);
}

TEST(QueuePacket, Ipv4Malformed) {
  PacketInfo p;
  Bytes ok = ipv4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, l4Header(IPPROTO_TCP, 1, 2));
  Bytes b = ok;
  b[0] = 0x44;  // IHL 4 < 5
  EXPECT_EQ(parse(b, p), ParseError::BadHeaderLength);
  b = ok;
  b[0] = 0x4f;  // IHL 15 = 60 bytes: options run into the TCP header, then past it
  b.resize(50);
  EXPECT_EQ(parse(b, p), ParseError::TruncatedIp);
  b = ok;
  b[2] = 0, b[3] = 10;  // total length shorter than the header
  EXPECT_EQ(parse(b, p), ParseError::BadHeaderLength);
  b = ok;
  b[2] = 0, b[3] = 22;  // total length ends inside the TCP header: trailing bytes are padding
  EXPECT_EQ(parse(b, p), ParseError::TruncatedL4);
  b = ok;
  b[2] = 0, b[3] = 0;  // 0 = GSO super-packet: use the bytes we have
  EXPECT_EQ(parse(b, p), ParseError::None);
  b = ok;
  b[0] = 0x54;
  EXPECT_EQ(parse(b, p), ParseError::BadVersion);
  EXPECT_EQ(parse(Bytes{}, p), ParseError::Empty);
}

TEST(QueuePacket, Ipv6ExtensionChain) {
  // hop-by-hop → routing (24 bytes) → destination options → fragment (first) → AH → TCP
  Bytes chain =
      cat({ext(IPPROTO_HOPOPTS, IPPROTO_ROUTING), ext(IPPROTO_ROUTING, IPPROTO_DSTOPTS, 2),
           ext(IPPROTO_DSTOPTS, IPPROTO_FRAGMENT),
           ext(IPPROTO_FRAGMENT, IPPROTO_AH, 0, 0x0001),  // offset 0, more fragments
           ext(IPPROTO_AH, IPPROTO_TCP, 4), l4Header(IPPROTO_TCP, 1234, 8080)});
  Bytes pkt = ipv6("fd00::a", "fd00::b", IPPROTO_HOPOPTS, chain);
  PacketInfo p;
  ASSERT_EQ(parse(pkt, p), ParseError::None);
  EXPECT_EQ(p.protocol, IPPROTO_TCP);
  EXPECT_EQ(p.src_port, 1234);
  EXPECT_EQ(p.dst_port, 8080);
  EXPECT_EQ(p.l3_length, 40 + 8 + 24 + 8 + 8 + 24);
  // Cut anywhere inside the extension headers: a truncated extension.
  for (size_t n = 41; n < p.l3_length; ++n) {
    PacketInfo q;
    EXPECT_EQ(parsePacket(std::span(pkt.data(), n), q), ParseError::TruncatedExtension) << n;
  }
  // Cut inside TCP: truncated transport header.
  PacketInfo q;
  EXPECT_EQ(parsePacket(std::span(pkt.data(), p.l3_length + 3u), q), ParseError::TruncatedL4);
}

TEST(QueuePacket, Ipv6LaterFragmentAndNoNextHeader) {
  PacketInfo p;
  Bytes frag = ipv6("::1", "::2", IPPROTO_FRAGMENT,
                    cat({ext(IPPROTO_FRAGMENT, IPPROTO_UDP, 0, 0x0100), Bytes{9, 9}}));
  ASSERT_EQ(parse(frag, p), ParseError::None);
  EXPECT_TRUE(p.later_fragment);
  EXPECT_EQ(p.protocol, IPPROTO_UDP);
  EXPECT_FALSE(p.has_ports);
  ASSERT_EQ(parse(ipv6("::1", "::2", IPPROTO_DSTOPTS, ext(IPPROTO_DSTOPTS, IPPROTO_NONE)), p),
            ParseError::None);
  EXPECT_EQ(p.protocol, IPPROTO_NONE);
}

TEST(QueuePacket, Ipv6Malformed) {
  PacketInfo p;
  EXPECT_EQ(parse(Bytes(39, 0x60), p), ParseError::TruncatedIp);
  // An extension header whose length points past the packet.
  Bytes e = ext(IPPROTO_DSTOPTS, IPPROTO_TCP);
  e[1] = 200;
  EXPECT_EQ(parse(ipv6("::1", "::2", IPPROTO_DSTOPTS, cat({e, l4Header(IPPROTO_TCP, 1, 2)})), p),
            ParseError::TruncatedExtension);
  // A chain longer than any real packet's.
  Bytes chain;
  for (int i = 0; i < 20; ++i) chain = cat({chain, ext(IPPROTO_DSTOPTS, IPPROTO_DSTOPTS)});
  EXPECT_EQ(parse(ipv6("::1", "::2", IPPROTO_DSTOPTS, chain), p), ParseError::TooManyExtensions);
  // Payload length shorter than the headers that follow: bounded by it.
  Bytes pkt = ipv6("::1", "::2", IPPROTO_TCP, l4Header(IPPROTO_TCP, 1, 2));
  pkt[4] = 0, pkt[5] = 2;
  EXPECT_EQ(parse(pkt, p), ParseError::TruncatedL4);
}

// Random corruption of valid packets: any answer is fine, a crash (or an
// ASan report in the sanitizer build) is not. The fuzzer goes further.
TEST(QueuePacket, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(42);
  std::vector<Bytes> seeds = {
      ipv4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, l4Header(IPPROTO_TCP, 1, 2), 0, 12),
      ipv6("::1", "::2", IPPROTO_HOPOPTS,
           cat({ext(IPPROTO_HOPOPTS, IPPROTO_AH), ext(IPPROTO_AH, IPPROTO_SCTP, 1),
                l4Header(IPPROTO_SCTP, 1, 2)}))};
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = seeds[i % 2];
    for (int k = 0; k < 3; ++k) b[rng() % b.size()] = uint8_t(rng());
    b.resize(rng() % (b.size() + 1));
    PacketInfo p;
    errors += parse(b, p) != ParseError::None;
  }
  EXPECT_GT(errors, 0);  // the corruption did produce malformed packets
}

TEST(QueuePacket, Format) {
  PacketInfo p;
  ASSERT_EQ(parse(ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, l4Header(IPPROTO_TCP, 3456, 80)), p),
            ParseError::None);
  EXPECT_EQ(formatPacket(p), "tcp 10.0.0.1:3456 -> 10.0.0.2:80");
  ASSERT_EQ(parse(ipv6("fd00::1", "fd00::2", IPPROTO_SCTP, l4Header(IPPROTO_SCTP, 5, 6)), p),
            ParseError::None);
  EXPECT_EQ(formatPacket(p), "sctp [fd00::1]:5 -> [fd00::2]:6");
  ASSERT_EQ(parse(ipv4("10.0.0.1", "10.0.0.2", IPPROTO_ICMP, l4Header(IPPROTO_ICMP, 8, 0)), p),
            ParseError::None);
  EXPECT_EQ(formatPacket(p), "icmp 10.0.0.1 -> 10.0.0.2 type 8 code 0");
}

}  // namespace
}  // namespace palisade::datapath::queue
