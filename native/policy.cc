// The NetworkPolicy decision on a flow's first packet; see policy.h.
#include "policy.h"

namespace podnet {

namespace {

bool in_ranges(const std::vector<IpRange>& v, const Addr& a, uint32_t& policy) {
  const IpRange* r = find_range(v, a);
  if (r) policy = r->policy;
  return r != nullptr;
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

}  // namespace podnet
