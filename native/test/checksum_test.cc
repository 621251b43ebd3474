// Checksum helpers (checksum.h) and the rewrite stage that uses them (rewrite.cc): every
// incremental update must equal a checksum computed from scratch over the rewritten packet,
// including the CHECKSUM_PARTIAL seed (virtio_net_hdr NEEDS_CSUM) the kernel completes later.
#include <gtest/gtest.h>

#include <vector>

#include "../checksum.h"
#include "../pipeline.h"
#include "addr.h"

using namespace podnet;
using podnet::test::ip;

namespace {

// A TCP or UDP packet with complete checksums and a payload of `payload` bytes.
std::vector<uint8_t> packet(uint8_t fam, uint8_t proto, const char* src, const char* dst, size_t payload) {
  size_t ih = fam == 4 ? 20 : 40, l4 = (proto == kTCP ? 20 : 8) + payload;
  std::vector<uint8_t> p(ih + l4);
  write_ip_header(p.data(), fam, ip(src), ip(dst), proto, l4);
  uint8_t* t = p.data() + ih;
  store16(t, 40000);
  store16(t + 2, 80);
  if (proto == kTCP) {
    t[12] = 5 << 4;
    t[13] = kTcpAck;
  } else {
    store16(t + 4, uint16_t(l4));
  }
  for (size_t i = 0; i < payload; i++) t[(proto == kTCP ? 20 : 8) + i] = uint8_t(i * 7 + 1);
  uint16_t off = l4_csum_offset(proto);
  uint32_t s = pseudo_sum(fam, p.data() + (fam == 4 ? 12 : 8), p.data() + (fam == 4 ? 16 : 24), proto, uint32_t(l4));
  store16(t + off, uint16_t(~csum_fold(csum_partial(t, l4, s))));
  return p;
}

// Sum over pseudo-header + transport segment: 0xffff when the checksum is right.
uint16_t verify_l4(const std::vector<uint8_t>& p, const Parsed& q) {
  const uint8_t* a = p.data() + (q.family == 4 ? 12 : 8);
  uint32_t s = pseudo_sum(q.family, a, a + addr_len(q.family), q.proto, q.l4_len);
  return csum_fold(csum_partial(p.data() + q.l4_off, q.l4_len, s));
}

Parsed parse(const std::vector<uint8_t>& p) {
  Parsed q;
  Drop why;
  EXPECT_TRUE(parse_packet(p.data(), p.size(), q, &why));
  return q;
}

}  // namespace

TEST(Checksum, FullChecksumOfKnownHeader) {
  // RFC 1071 style example: an IPv4 header whose checksum field is zero sums to b861.
  const uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(csum_full(h, sizeof h), 0xb861);
}

TEST(Checksum, OddLengthPadsWithZero) {
  const uint8_t a[] = {0x12, 0x34, 0x56};
  const uint8_t b[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(csum_full(a, 3), csum_full(b, 4));
}

TEST(Checksum, ReplaceEqualsRecomputation) {
  std::vector<uint8_t> h(20);
  write_ip_header(h.data(), 4, ip("10.0.0.1"), ip("10.96.0.10"), kTCP, 20);
  Addr to = ip("10.244.1.7");
  csum_replace(h.data() + 10, h.data() + 16, to.b, 4);
  std::memcpy(h.data() + 16, to.b, 4);
  uint16_t incremental = load16(h.data() + 10);
  store16(h.data() + 10, 0);
  EXPECT_EQ(incremental, csum_full(h.data(), 20));
}

// RFC 1624's corner: an update must never produce 0x0000 where a full recomputation gives
// 0xffff (or the reverse) — both forms of zero compare equal through verification.
TEST(Checksum, ReplaceKeepsVerificationAcrossManyValues) {
  for (uint32_t v = 0; v < 65536; v += 251) {
    uint8_t data[4] = {0x12, 0x34, uint8_t(v >> 8), uint8_t(v)};
    uint8_t field[2];
    store16(field, csum_full(data, 4));
    uint8_t nw[2] = {uint8_t(~v >> 8), uint8_t(v * 3)};
    csum_replace(field, data + 2, nw, 2);
    std::memcpy(data + 2, nw, 2);
    EXPECT_EQ(csum_fold(csum_partial(data, 4, load16(field))), 0xffff) << v;
  }
}

class Rewrite : public testing::TestWithParam<std::tuple<uint8_t, uint8_t>> {};

// DNAT then SNAT, as a masqueraded service flow gets: checksums verify afterwards.
TEST_P(Rewrite, IncrementalEqualsFullRecomputation) {
  auto [fam, proto] = GetParam();
  bool v4 = fam == 4;
  auto p = packet(fam, proto, v4 ? "10.0.0.1" : "fd00::1", v4 ? "10.96.0.10" : "fd00:96::10", 33);
  Parsed q = parse(p);
  ASSERT_EQ(verify_l4(p, q), 0xffff);
  rewrite(p.data(), q, nullptr, true, ip(v4 ? "10.244.1.7" : "fd00:244::7"), 8080);
  rewrite(p.data(), q, nullptr, false, ip(v4 ? "169.254.42.1" : "fd00:a9fe::1"), 61234);
  Parsed r = parse(p);
  EXPECT_EQ(r.key.dport, 8080);
  EXPECT_EQ(r.key.sport, 61234);
  EXPECT_EQ(verify_l4(p, r), 0xffff);
  if (v4) {
    EXPECT_EQ(csum_fold(csum_partial(p.data(), 20, 0)), 0xffff) << "IPv4 header checksum";
  }
}

// NEEDS_CSUM: the field holds the folded pseudo-header sum (not complemented) and the kernel
// sums the segment later. After a rewrite it must equal the seed computed from scratch for
// the new addresses; ports are in the segment the kernel sums, so they are not in the seed.
TEST_P(Rewrite, PartialSeedEqualsPseudoHeaderOfNewAddresses) {
  auto [fam, proto] = GetParam();
  bool v4 = fam == 4;
  auto p = packet(fam, proto, v4 ? "10.0.0.1" : "fd00::1", v4 ? "10.96.0.10" : "fd00:96::10", 100);
  Parsed q = parse(p);
  uint8_t* field = p.data() + q.l4_off + l4_csum_offset(proto);
  auto seed = [&] {
    const uint8_t* a = p.data() + (v4 ? 12 : 8);
    return csum_fold(pseudo_sum(fam, a, a + addr_len(fam), proto, q.l4_len));
  };
  store16(field, seed());
  VnetHdr vh{};
  vh.flags = kVnetNeedsCsum;
  vh.csum_start = q.l4_off;
  vh.csum_offset = l4_csum_offset(proto);
  rewrite(p.data(), q, &vh, true, ip(v4 ? "10.244.1.7" : "fd00:244::7"), 8080);
  rewrite(p.data(), q, &vh, false, ip(v4 ? "169.254.42.1" : "fd00:a9fe::1"), 61234);
  // Equal as one's complement values: 0x0000 and 0xffff are the same sum.
  uint16_t got = load16(field), want = seed();
  EXPECT_TRUE(got == want || (got % 0xffff) == (want % 0xffff)) << std::hex << got << " vs " << want;
  // Completing it as the kernel would gives a valid checksum.
  store16(field, 0);
  uint16_t done = uint16_t(~csum_fold(csum_partial(p.data() + q.l4_off, q.l4_len, got)));
  store16(field, done);
  EXPECT_EQ(verify_l4(p, parse(p)), 0xffff);
}

INSTANTIATE_TEST_SUITE_P(Families, Rewrite,
                         testing::Values(std::make_tuple(uint8_t(4), uint8_t(kTCP)), std::make_tuple(uint8_t(4), uint8_t(kUDP)),
                                         std::make_tuple(uint8_t(6), uint8_t(kTCP)), std::make_tuple(uint8_t(6), uint8_t(kUDP))),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == 4 ? "IPv4" : "IPv6") +
                                  (std::get<1>(info.param) == kTCP ? "TCP" : "UDP");
                         });

// UDP over IPv4 may carry no checksum (0): a rewrite must leave it at 0.
TEST(Checksum, UdpWithoutChecksumStaysWithout) {
  auto p = packet(4, kUDP, "10.0.0.1", "10.96.0.10", 8);
  Parsed q = parse(p);
  store16(p.data() + q.l4_off + 6, 0);
  rewrite(p.data(), q, nullptr, true, ip("10.244.1.7"), 8080);
  EXPECT_EQ(load16(p.data() + q.l4_off + 6), 0);
  EXPECT_EQ(csum_fold(csum_partial(p.data(), 20, 0)), 0xffff);
}
