// Maglev table population (maglev.h): every slot filled, an even spread, weights honoured,
// the same table in every process, and little movement when the backend set changes.
#include <gtest/gtest.h>

#include <map>

#include "../maglev.h"
#include "../net.h"

using namespace podnet;

namespace {

std::vector<MaglevBackend> backends(uint32_t n, uint32_t first = 0) {
  std::vector<MaglevBackend> v;
  for (uint32_t i = first; i < first + n; i++) v.push_back({mix64(0x1000 + i), 1});
  return v;
}

// The table as backend identities, so tables over different sets compare slot by slot.
std::vector<uint64_t> ids(const std::vector<MaglevBackend>& b, uint32_t m) {
  std::vector<uint64_t> out;
  for (uint16_t i : maglev_build(b, m)) out.push_back(b[i].id_hash);
  return out;
}

double moved_fraction(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  size_t moved = 0;
  for (size_t i = 0; i < a.size(); i++) moved += a[i] != b[i];
  return double(moved) / double(a.size());
}

}  // namespace

TEST(Maglev, EmptySetGivesEmptyTable) { EXPECT_TRUE(maglev_build({}, 251).empty()); }

TEST(Maglev, FillsEverySlotWithAValidIndex) {
  auto b = backends(7);
  auto t = maglev_build(b, 251);
  ASSERT_EQ(t.size(), 251u);
  for (uint16_t i : t) EXPECT_LT(i, b.size());
}

// Equal weights take turns one slot at a time, so no backend gets more than one slot over
// another: the spread is within 1 slot of M/N (0.3% at N = 10, M = 4093).
TEST(Maglev, EvenDistributionWithinOneSlot) {
  for (uint32_t n : {2u, 3u, 10u, 40u}) {
    std::map<uint16_t, uint32_t> count;
    for (uint16_t i : maglev_build(backends(n), 4093)) count[i]++;
    ASSERT_EQ(count.size(), n);
    uint32_t lo = UINT32_MAX, hi = 0;
    for (auto [i, c] : count) {
      lo = std::min(lo, c);
      hi = std::max(hi, c);
    }
    EXPECT_LE(hi - lo, 1u) << "n=" << n;
  }
}

TEST(Maglev, WeightsAreProportional) {
  auto b = backends(3);
  b[1].weight = 2;
  b[2].weight = 4;
  std::map<uint16_t, uint32_t> count;
  for (uint16_t i : maglev_build(b, 4093)) count[i]++;
  EXPECT_NEAR(double(count[1]) / count[0], 2.0, 0.05);
  EXPECT_NEAR(double(count[2]) / count[0], 4.0, 0.05);
}

// The same set gives the same table in every process: a flow keeps its backend across restarts.
TEST(Maglev, Deterministic) {
  auto b = backends(9);
  EXPECT_EQ(maglev_build(b, 1021), maglev_build(b, 1021));
}

// Adding an 11th backend must move the ~1/11 of the slots it takes and little else: the
// bound is 1.5 x the ideal fraction (Maglev trades a little disruption for balance).
TEST(Maglev, AddingABackendMovesABoundedFraction) {
  constexpr uint32_t kM = 4093;
  auto before = backends(10), after = backends(11);
  double moved = moved_fraction(ids(before, kM), ids(after, kM));
  EXPECT_GE(moved, 1.0 / 11 - 0.01);
  EXPECT_LE(moved, 1.5 / 11);
}

// Removing one of ten: all of its slots move (1/10), others mostly stay.
TEST(Maglev, RemovingABackendMovesABoundedFraction) {
  constexpr uint32_t kM = 4093;
  auto before = backends(10), after = backends(9, 1);  // backend 0 gone
  auto a = ids(before, kM), b = ids(after, kM);
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] == before[0].id_hash) {
      EXPECT_NE(b[i], before[0].id_hash);
    }
  }
  double moved = moved_fraction(a, b);
  EXPECT_GE(moved, 1.0 / 10 - 0.01);
  EXPECT_LE(moved, 1.5 / 10);
}

TEST(Maglev, IsPrime) {
  EXPECT_FALSE(is_prime(0));
  EXPECT_FALSE(is_prime(1));
  EXPECT_TRUE(is_prime(2));
  EXPECT_TRUE(is_prime(4093));
  EXPECT_FALSE(is_prime(4095));
  EXPECT_TRUE(is_prime(1000003));
}
