// NetworkPolicy decision and compile helpers; see policy.h.
#include "policy.h"

#include <algorithm>

namespace podnet {

namespace {

int cmp(const Addr& a, const Addr& b) { return std::memcmp(a.b, b.b, 16); }

bool in_ranges(const std::vector<IpRange>& v, const Addr& a, uint32_t& policy) {
  // Last range whose lo <= a.
  auto it = std::upper_bound(v.begin(), v.end(), a, [](const Addr& x, const IpRange& r) { return cmp(x, r.lo) < 0; });
  if (it == v.begin()) return false;
  --it;
  if (cmp(a, it->hi) > 0) return false;
  policy = it->policy;
  return true;
}

bool match(const RuleSet& rs, uint8_t family, const Addr& peer, uint8_t proto, uint16_t port, uint32_t& policy) {
  for (const PortClass& c : rs.classes) {
    if (c.proto != 0 && (c.proto != proto || port < c.lo || port > c.hi)) continue;
    if (c.any_peer) {
      policy = c.any_peer_policy;
      return true;
    }
    if (in_ranges(family == 4 ? c.v4 : c.v6, peer, policy)) return true;
  }
  return false;
}

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

PolicyDecision policy_decide(const PolicyTable& t, uint8_t family, const Addr& src, const Addr& dst, uint8_t proto,
                             uint16_t dport) {
  PolicyDecision d;
  if (!t.active) return d;
  if (t.hosts.count(VipKey{src, family}) || t.hosts.count(VipKey{dst, family})) return d;
  auto sp = t.pods.find(VipKey{src, family});
  auto dp = t.pods.find(VipKey{dst, family});
  const PodPolicy* s = sp == t.pods.end() ? nullptr : &sp->second;
  const PodPolicy* r = dp == t.pods.end() ? nullptr : &dp->second;
  d.tracked = (s && (s->ingress >= 0 || s->egress >= 0)) || (r && (r->ingress >= 0 || r->egress >= 0));
  uint32_t pol = UINT32_MAX;
  if (r && r->ingress >= 0) {
    if (!match(t.sets[size_t(r->ingress)], family, src, proto, dport, pol)) {
      d.allow = false;
      d.deny_set = r->ingress;
      return d;
    }
    d.allow_policy = pol;
  }
  if (s && s->egress >= 0) {
    if (!match(t.sets[size_t(s->egress)], family, dst, proto, dport, pol)) {
      d.allow = false;
      d.denied_egress = true;
      d.deny_set = s->egress;
      return d;
    }
    if (d.allow_policy == UINT32_MAX) d.allow_policy = pol;
  }
  return d;
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

void finish_rule_set(RuleSet& rs) {
  for (PortClass& c : rs.classes) {
    for (auto* v : {&c.v4, &c.v6}) {
      size_t n = v == &c.v4 ? 4 : 16;
      std::sort(v->begin(), v->end(), [](const IpRange& a, const IpRange& b) { return cmp(a.lo, b.lo) < 0; });
      std::vector<IpRange> merged;
      for (const IpRange& r : *v) {
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
      *v = std::move(merged);
    }
  }
}

}  // namespace podnet
