// Address range sets (range_set.h): CIDR minus exceptions, merging, and lookup at the edges.
#include <gtest/gtest.h>

#include "../range_set.h"
#include "addr.h"

using namespace podnet;
using podnet::test::ip;

namespace {

std::vector<IpRange> cidr(uint8_t fam, const char* base, uint32_t prefix,
                          std::vector<std::pair<Addr, uint32_t>> except = {}) {
  std::vector<IpRange> v;
  EXPECT_TRUE(cidr_ranges(fam, ip(base), prefix, except, 7, v));
  merge_ranges(v, fam);
  return v;
}

}  // namespace

TEST(RangeSet, CidrCoversExactlyItsBlock) {
  auto v = cidr(4, "10.1.2.3", 24);  // host bits are ignored
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].lo == ip("10.1.2.0"));
  EXPECT_TRUE(v[0].hi == ip("10.1.2.255"));
  EXPECT_TRUE(in_range_set(v, ip("10.1.2.0")));
  EXPECT_TRUE(in_range_set(v, ip("10.1.2.255")));
  EXPECT_FALSE(in_range_set(v, ip("10.1.1.255")));
  EXPECT_FALSE(in_range_set(v, ip("10.1.3.0")));
  EXPECT_EQ(find_range(v, ip("10.1.2.9"))->policy, 7u);
}

TEST(RangeSet, ExceptionsCutHoles) {
  auto v = cidr(4, "10.0.0.0", 24, {{ip("10.0.0.128"), 25}, {ip("10.0.0.16"), 28}, {ip("192.168.0.0"), 16}});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(in_range_set(v, ip("10.0.0.15")));
  EXPECT_FALSE(in_range_set(v, ip("10.0.0.16")));
  EXPECT_FALSE(in_range_set(v, ip("10.0.0.31")));
  EXPECT_TRUE(in_range_set(v, ip("10.0.0.32")));
  EXPECT_TRUE(in_range_set(v, ip("10.0.0.127")));
  EXPECT_FALSE(in_range_set(v, ip("10.0.0.128")));
  EXPECT_FALSE(in_range_set(v, ip("10.0.0.255")));
}

TEST(RangeSet, ExceptionCoveringTheBlockLeavesNothing) {
  EXPECT_TRUE(cidr(4, "10.0.0.0", 24, {{ip("10.0.0.0"), 16}}).empty());
}

TEST(RangeSet, WholeAddressSpaceAndTopAddress) {
  auto all = cidr(4, "0.0.0.0", 0);
  EXPECT_TRUE(in_range_set(all, ip("0.0.0.0")));
  EXPECT_TRUE(in_range_set(all, ip("255.255.255.255")));
  auto top = cidr(4, "255.255.255.255", 32, {});
  EXPECT_TRUE(in_range_set(top, ip("255.255.255.255")));
  EXPECT_FALSE(in_range_set(top, ip("255.255.255.254")));
  // A hole at the very top must not wrap around.
  auto v = cidr(4, "255.255.255.0", 24, {{ip("255.255.255.255"), 32}});
  EXPECT_TRUE(in_range_set(v, ip("255.255.255.254")));
  EXPECT_FALSE(in_range_set(v, ip("255.255.255.255")));
}

TEST(RangeSet, MergesOverlappingAndAdjacentRanges) {
  std::vector<IpRange> v;
  cidr_ranges(4, ip("10.0.1.0"), 24, {}, 1, v);
  cidr_ranges(4, ip("10.0.0.0"), 24, {}, 2, v);   // adjacent below
  cidr_ranges(4, ip("10.0.0.128"), 25, {}, 3, v); // inside
  cidr_ranges(4, ip("10.0.3.0"), 24, {}, 4, v);   // a gap at 10.0.2.0/24
  merge_ranges(v, 4);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].lo == ip("10.0.0.0"));
  EXPECT_TRUE(v[0].hi == ip("10.0.1.255"));
  EXPECT_EQ(v[0].policy, 2u) << "a merged range keeps the first one's policy";
  EXPECT_FALSE(in_range_set(v, ip("10.0.2.7")));
  EXPECT_TRUE(in_range_set(v, ip("10.0.3.7")));
}

TEST(RangeSet, Ipv6) {
  auto v = cidr(6, "fd00:10::", 64, {{ip("fd00:10::"), 120}});
  EXPECT_FALSE(in_range_set(v, ip("fd00:10::ff")));
  EXPECT_TRUE(in_range_set(v, ip("fd00:10::100")));
  EXPECT_TRUE(in_range_set(v, ip("fd00:10::ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(in_range_set(v, ip("fd00:11::")));
}

TEST(RangeSet, RejectsOverlongPrefixes) {
  std::vector<IpRange> v;
  EXPECT_FALSE(cidr_ranges(4, ip("10.0.0.0"), 33, {}, 0, v));
  EXPECT_FALSE(cidr_ranges(4, ip("10.0.0.0"), 8, {{ip("10.0.0.0"), 40}}, 0, v));
  EXPECT_FALSE(cidr_ranges(6, ip("fd00::"), 129, {}, 0, v));
}

TEST(RangeSet, EmptySetHoldsNothing) { EXPECT_FALSE(in_range_set({}, ip("10.0.0.1"))); }
