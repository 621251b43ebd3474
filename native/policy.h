// NetworkPolicy in the data path (see tables.h): compiled per-pod allow sets and the
// decision taken on a flow's first packet, after DNAT. The table is compiled from a
// PolicySpec by policy_build.cc on the JS thread.
//
// PolicyTable                     immutable version, published atomically like the service table
//   pods     pod address -> ingress / egress rule set (or not isolated), name
//   sets     rule set: port classes (protocol + port range), each with the union of its
//            peers as sorted disjoint address ranges (binary search) or "any peer"
//   hosts    the node's addresses: pod <-> node traffic is always allowed
//   bound    whatever the control plane sends; first-packet cost is O(port classes x log ranges),
//            flat in the number of policies because rules merge into classes at compile time
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net.h"
#include "range_set.h"
#include "service_table.h"

namespace podnet {

struct PortClass {
  uint8_t proto;  // 0: any protocol (a rule without ports)
  uint16_t lo;
  uint16_t hi;
  bool any_peer = false;
  uint32_t any_peer_policy = 0;
  std::vector<IpRange> v4, v6;  // sorted by lo, disjoint
};

struct RuleSet {
  std::vector<PortClass> classes;
  std::vector<uint32_t> isolated_by;  // policy indices
};

struct PodPolicy {
  int32_t ingress = -1;
  int32_t egress = -1;
  uint32_t name = 0;  // index into pod_names
};

struct PolicyTable {
  uint64_t version = 0;
  bool active = false;  // some pod is isolated: otherwise nothing is even looked up
  std::unordered_map<VipKey, PodPolicy, VipKeyHash> pods;
  std::unordered_set<VipKey, VipKeyHash> hosts;
  std::vector<RuleSet> sets;
  std::vector<std::string> policies;
  std::vector<std::string> pod_names;
  std::vector<uint32_t> policy_slot;  // policy index -> engine counter slot
};

struct PolicyDecision {
  bool allow = true;
  bool tracked = false;      // an endpoint is isolated: keep a flow so replies pass
  bool denied_egress = false;
  int32_t deny_set = -1;     // rule set that found no match
  uint32_t allow_policy = UINT32_MAX;  // a policy that allowed it (ingress side first)
};

PolicyDecision policy_decide(const PolicyTable& t, uint8_t family, const Addr& src, const Addr& dst, uint8_t proto,
                             uint16_t dport);

// What the control plane sends (PolicyTables in src/engine/types.ts), parsed but not yet
// compiled: rules still per policy, peers still CIDRs.
struct PolicyPortSpec {
  uint8_t proto;  // kTCP, kUDP or 132 (SCTP)
  uint16_t lo = 0, hi = 65535;
};
struct PolicyPeerSpec {
  uint8_t family;
  Addr base;
  uint32_t prefix;
  std::vector<std::pair<Addr, uint32_t>> except;  // prefixes of the same family
};
struct PolicyRuleSpec {
  std::string policy;                  // "namespace/name"
  std::vector<PolicyPortSpec> ports;   // empty: every port of every protocol
  std::vector<PolicyPeerSpec> peers;   // empty: any peer
};
struct RuleSetSpec {
  std::vector<std::string> isolated_by;
  std::vector<PolicyRuleSpec> rules;
};
struct PodPolicySpec {
  std::string name;
  int32_t ingress = -1, egress = -1;  // index into rule_sets, -1: not isolated that way
  std::vector<VipKey> ips;
};
struct PolicySpec {
  std::vector<RuleSetSpec> rule_sets;
  std::vector<PodPolicySpec> pods;
  std::vector<VipKey> hosts;
};

// Compiles a spec (indices already checked): the rules of a set are grouped into port
// classes (protocol + port range), each with the merged ranges of every peer that allows it.
PolicyTable build_policy_table(const PolicySpec& spec);
// Sorts and merges each class's ranges.
void finish_rule_set(RuleSet& rs);

struct PolicyCounter {
  std::atomic<uint64_t> allowed{0}, denied_ingress{0}, denied_egress{0};
};

}  // namespace podnet
