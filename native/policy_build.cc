// Compiles a PolicySpec into the PolicyTable engine threads decide with (see policy.h).
// Runs on the JS thread inside setPolicy(); the binding has already checked every field.
#include <map>
#include <tuple>

#include "policy.h"

namespace podnet {

namespace {

using PortKey = std::tuple<uint8_t, uint16_t, uint16_t>;

// Adds one rule to its set: every port class it names gains the rule's peers.
void add_rule(RuleSet& rs, std::map<PortKey, size_t>& classes, const PolicyRuleSpec& rule, uint32_t pol) {
  std::vector<PortKey> ports;
  for (const PolicyPortSpec& p : rule.ports) ports.emplace_back(p.proto, p.lo, p.hi);
  if (ports.empty()) ports.emplace_back(0, 0, 65535);
  // Peers once per rule, added to each of its port classes.
  std::vector<IpRange> r4, r6;
  for (const PolicyPeerSpec& peer : rule.peers)
    cidr_ranges(peer.family, peer.base, peer.prefix, peer.except, pol, peer.family == 4 ? r4 : r6);
  bool any = rule.peers.empty();
  for (const PortKey& key : ports) {
    auto [it, fresh] = classes.emplace(key, rs.classes.size());
    if (fresh) {
      PortClass c{};
      c.proto = std::get<0>(key);
      c.lo = std::get<1>(key);
      c.hi = std::get<2>(key);
      rs.classes.push_back(std::move(c));
    }
    PortClass& c = rs.classes[it->second];
    if (any && !c.any_peer) {
      c.any_peer = true;
      c.any_peer_policy = pol;
    }
    c.v4.insert(c.v4.end(), r4.begin(), r4.end());
    c.v6.insert(c.v6.end(), r6.begin(), r6.end());
  }
}

}  // namespace

PolicyTable build_policy_table(const PolicySpec& spec) {
  PolicyTable t;
  std::unordered_map<std::string, uint32_t> names;
  auto policy_index = [&](const std::string& n) {
    auto [it, fresh] = names.emplace(n, uint32_t(t.policies.size()));
    if (fresh) t.policies.push_back(n);
    return it->second;
  };
  for (const RuleSetSpec& s : spec.rule_sets) {
    RuleSet rs;
    for (const std::string& n : s.isolated_by) rs.isolated_by.push_back(policy_index(n));
    std::map<PortKey, size_t> classes;
    for (const PolicyRuleSpec& r : s.rules) add_rule(rs, classes, r, policy_index(r.policy));
    finish_rule_set(rs);
    t.sets.push_back(std::move(rs));
  }
  for (const PodPolicySpec& pod : spec.pods) {
    PodPolicy pp;
    pp.name = uint32_t(t.pod_names.size());
    t.pod_names.push_back(pod.name);
    pp.ingress = pod.ingress;
    pp.egress = pod.egress;
    if (pod.ingress >= 0 || pod.egress >= 0) t.active = true;
    for (const VipKey& k : pod.ips) t.pods[k] = pp;
  }
  for (const VipKey& k : spec.hosts) t.hosts.insert(k);
  return t;
}

void finish_rule_set(RuleSet& rs) {
  for (PortClass& c : rs.classes) {
    merge_ranges(c.v4, 4);
    merge_ranges(c.v6, 6);
  }
}

}  // namespace podnet
