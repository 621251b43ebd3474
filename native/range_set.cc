// Address range sets; see range_set.h.
#include "range_set.h"

#include <algorithm>

namespace podnet {

namespace {

int cmp(const Addr& a, const Addr& b) { return std::memcmp(a.b, b.b, 16); }

// a - 1 and a + 1 over the family's bytes; false on under/overflow.
bool dec(Addr& a, size_t n) {
  for (size_t i = n; i-- > 0;) {
    if (a.b[i]-- != 0) return true;
  }
  return false;
}
bool inc(Addr& a, size_t n) {
  for (size_t i = n; i-- > 0;) {
    if (++a.b[i] != 0) return true;
  }
  return false;
}

void prefix_range(uint8_t family, const Addr& base, uint32_t prefix, Addr& lo, Addr& hi) {
  size_t n = addr_len(family);
  lo = Addr{};
  hi = Addr{};
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = prefix > i * 8 ? std::min<uint32_t>(8, prefix - uint32_t(i) * 8) : 0;
    uint8_t mask = bits == 0 ? 0 : uint8_t(0xff << (8 - bits));
    lo.b[i] = base.b[i] & mask;
    hi.b[i] = uint8_t(lo.b[i] | ~mask);
  }
}

}  // namespace

const IpRange* find_range(const std::vector<IpRange>& v, const Addr& a) {
  // Last range whose lo <= a.
  auto it = std::upper_bound(v.begin(), v.end(), a, [](const Addr& x, const IpRange& r) { return cmp(x, r.lo) < 0; });
  if (it == v.begin()) return nullptr;
  --it;
  return cmp(a, it->hi) <= 0 ? &*it : nullptr;
}

bool cidr_ranges(uint8_t family, const Addr& base, uint32_t prefix,
                 const std::vector<std::pair<Addr, uint32_t>>& except, uint32_t policy, std::vector<IpRange>& out) {
  size_t n = addr_len(family);
  if (prefix > n * 8) return false;
  Addr lo, hi;
  prefix_range(family, base, prefix, lo, hi);
  std::vector<std::pair<Addr, Addr>> holes;
  for (const auto& [a, p] : except) {
    if (p > n * 8) return false;
    Addr elo, ehi;
    prefix_range(family, a, p, elo, ehi);
    if (cmp(ehi, lo) < 0 || cmp(elo, hi) > 0) continue;  // outside the block
    holes.push_back({elo, ehi});
  }
  std::sort(holes.begin(), holes.end(), [](const auto& x, const auto& y) { return cmp(x.first, y.first) < 0; });
  Addr cur = lo;
  bool done = false;
  for (const auto& [elo, ehi] : holes) {
    if (done) break;
    if (cmp(elo, cur) > 0) {
      Addr end = elo;
      dec(end, n);
      out.push_back({cur, end, policy});
    }
    if (cmp(ehi, cur) >= 0) {
      cur = ehi;
      if (!inc(cur, n) || cmp(cur, hi) > 0) done = true;
    }
  }
  if (!done && cmp(cur, hi) <= 0) out.push_back({cur, hi, policy});
  return true;
}

void merge_ranges(std::vector<IpRange>& v, uint8_t family) {
  size_t n = addr_len(family);
  std::sort(v.begin(), v.end(), [](const IpRange& a, const IpRange& b) { return cmp(a.lo, b.lo) < 0; });
  std::vector<IpRange> merged;
  for (const IpRange& r : v) {
    if (!merged.empty()) {
      Addr next = merged.back().hi;
      bool ovf = !inc(next, n);
      if (ovf || cmp(r.lo, next) <= 0) {
        if (cmp(r.hi, merged.back().hi) > 0) merged.back().hi = r.hi;
        continue;
      }
    }
    merged.push_back(r);
  }
  v = std::move(merged);
}

}  // namespace podnet
