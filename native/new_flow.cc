// Stage 5: plan a new flow, then commit the plan; see new_flow.h.
#include "new_flow.h"

#include "kernel_cache.h"

namespace podnet {

namespace {

// Policy counter slots name policies stably across table versions: the monitor's reader
// turns them into names.
void event_policy(Event& e, const PolicyTable& pt, uint32_t policy) {
  uint32_t slot = policy < pt.policy_slot.size() ? pt.policy_slot[policy] : UINT32_MAX;
  if (e.n_policies < Event::kMaxPolicies) e.policies[e.n_policies++] = slot;
  else e.more_policies++;
}

// A denial for the monitor: the packet, where a VIP sent it, and the policies isolating the denied end.
void report_policy_drop(const PipelineEnv& env, const PolicyTable& pt, const FlowPlan& plan, const Parsed& p) {
  Event e{};
  e.type = EventType::kDrop;
  e.reason = uint8_t(plan.reason);
  e.len = p.len;
  event_key(e, p.key);
  if (plan.be) e.be = plan.be->addr, e.be_port = plan.be->port, e.flags |= kEvBackend;
  if (plan.policy.deny_set >= 0 && size_t(plan.policy.deny_set) < pt.sets.size())
    for (uint32_t i : pt.sets[size_t(plan.policy.deny_set)].isolated_by) event_policy(e, pt, i);
  env.monitor->record(e);
}

// A new flow for the monitor: its translation, service, whether the kernel cache carries it.
void report_new_flow(const PipelineEnv& env, const PolicyTable& pt, const FlowPlan& plan, const Parsed& p,
                     const FlowHit& hit) {
  Event e{};
  e.type = EventType::kFlowNew;
  e.kind = uint8_t(plan.kind);
  e.state = hit.state;
  event_key(e, p.key);
  event_translation(e, hit.x);
  if (env.cache && plan.cache.ok()) e.flags |= kEvCached;
  if (plan.policy_checked && plan.policy.allow_policy != UINT32_MAX) {
    e.flags |= kEvPolicyAllow;
    event_policy(e, pt, plan.policy.allow_policy);
  }
  env.monitor->record(e);
}

Result policy_drop(const PipelineEnv& env, const PolicyTable& pt, const FlowPlan& plan, const Parsed& p) {
  if (env.monitoring()) report_policy_drop(env, pt, plan, p);
  const PolicyDecision& d = plan.policy;
  return Result{Verdict::kDrop, d.denied_egress ? Drop::policy_egress : Drop::policy_ingress, nullptr, 0};
}

// Counts a NetworkPolicy decision; false when the flow must not start.
bool policy_admits(const PipelineEnv& env, const PolicyTable& pt, const PolicyDecision& d) {
  if (d.allow) {
    if (d.allow_policy != UINT32_MAX && d.allow_policy < pt.policy_slot.size()) {
      uint32_t slot = pt.policy_slot[d.allow_policy];
      if (slot < env.policy_capacity) env.policy_counters[slot].allowed.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }
  env.counters->drop(d.denied_egress ? Drop::policy_egress : Drop::policy_ingress);
  for (uint32_t p : pt.sets[size_t(d.deny_set)].isolated_by) {
    uint32_t slot = p < pt.policy_slot.size() ? pt.policy_slot[p] : UINT32_MAX;
    if (slot >= env.policy_capacity) continue;
    (d.denied_egress ? env.policy_counters[slot].denied_egress : env.policy_counters[slot].denied_ingress)
        .fetch_add(1, std::memory_order_relaxed);
  }
  return false;
}

Result reject(const PipelineEnv& env, const uint8_t* pkt, const Parsed& p, VnetHdr* vh, uint8_t* scratch,
              Drop why) {
  env.counters->drop(why);
  if (p.proto == kTCP) {
    if (p.tcp_flags & kTcpRst) return Result{Verdict::kDrop, why, nullptr, 0};  // never answer a RST
    env.counters->reply(Reply::rst);
    if (vh) *vh = VnetHdr{};
    return Result{Verdict::kReply, why, scratch, build_tcp_rst(pkt, p, scratch)};
  }
  env.counters->reply(Reply::icmp_unreachable);
  if (vh) *vh = VnetHdr{};
  return Result{Verdict::kReply, why, scratch, build_icmp_port_unreachable(pkt, p, scratch)};
}

// The ClientIP affinity record of (client address, service port): proto kAffinity, the real
// protocol in the pad byte, no client port.
FlowKey affinity_key(const Parsed& p) {
  FlowKey aff{};
  aff.family = p.family;
  aff.proto = kAffinity;
  aff.pad = p.proto;
  aff.dport = p.key.dport;
  aff.src = p.key.src;
  aff.dst = p.key.dst;
  return aff;
}

// Backend choice: ClientIP affinity (the backend this client used within the timeout, if
// still active), else Maglev over the flow's hash.
const Backend* choose_backend(const PipelineEnv& env, const ServicePort& svc, const Parsed& p, uint64_t now_ms,
                              FlowPlan& plan) {
  if (svc.affinity_timeout_ms == 0) return svc.pick(hash_key(p.key));
  FlowKey aff = affinity_key(p);
  FlowHit hit;
  if (env.flows->lookup(aff, now_ms, hit)) {
    const Backend* b = svc.find(hit.x.dst, hit.x.dport);
    if (b && !b->terminating) {
      plan.affinity_touch = true;
      plan.affinity_hit = hit;
      return b;
    }
    plan.affinity_stale = FlowRef{hit.idx, hit.gen};
  }
  // The first connection of a client picks by client address only, so that concurrent
  // first connections of one client agree even before the affinity record exists.
  const Backend* b = svc.pick(hash_bytes(p.key.src.b, 16, p.family));
  if (!b) return nullptr;
  NewFlow& nf = plan.affinity;
  nf.fwd = aff;
  nf.fwd_x.dst = b->addr;
  nf.fwd_x.dport = b->port;
  nf.fwd_x.rewrite = kRewriteDst;
  nf.svc_slot = svc.slot;
  nf.be_slot = b->slot;
  nf.single = true;
  nf.extra_timeout_ms = svc.affinity_timeout_ms;
  plan.affinity_insert = true;
  return b;
}

// Picks the masqueraded source port: the client's own when free, else a hashed one, so the
// reverse key (backend -> SNAT address:port) is unique. Returns false when 64 tries collide.
// `any_port`: the client's own port may be used even outside the range (service masquerade,
// whose replies come back through the engine on any port); egress masquerade stays in range
// because the uplink steers only that range into the TUN. A port held by a closed TCP flow
// (TIME_WAIT, RST) is taken over, as netfilter does, or short connections exhaust the range.
bool snat_port(const PipelineEnv& env, const MasqConfig& m, FlowPlan& plan, const Addr& snat, uint64_t now_ms,
               bool any_port) {
  NewFlow& nf = plan.flow;
  nf.rev.dst = snat;
  uint64_t h = hash_key(nf.fwd);
  uint32_t lo = m.port_lo, span = uint32_t(m.port_hi) - lo + 1;
  bool own_fits = any_port || (nf.fwd.sport >= lo && nf.fwd.sport <= m.port_hi);
  for (uint32_t i = own_fits ? 0 : 1; i < 64; i++) {
    nf.rev.dport = i == 0 ? nf.fwd.sport : uint16_t(lo + mix64(h + i) % span);
    FlowHit taken;
    if (!env.flows->lookup(nf.rev, now_ms, taken)) return true;
    uint8_t base = taken.state & kStateMask;
    if (taken.proto == kTCP && (base == kTimeWait || base == kClose || base == kReset)) {
      plan.snat_takeover = FlowRef{taken.idx, taken.gen};
      return true;
    }
  }
  return false;
}

// The published egress masquerade, or an empty one (no egress masquerade, the default ports).
const MasqConfig& masq_of(const Tables& t) {
  static const MasqConfig kNone;
  return t.masq ? *t.masq : kNone;
}

// Source NAT of a planned flow to `snat`, keeping the original source for the replies.
bool plan_snat(const PipelineEnv& env, const Tables& t, FlowPlan& plan, const Parsed& p, const Addr& snat,
               uint64_t now_ms, bool any_port) {
  if (!snat_port(env, masq_of(t), plan, snat, now_ms, any_port)) {
    plan.action = PlanAction::kDrop;
    plan.reason = Drop::snat_exhausted;
    return false;
  }
  NewFlow& nf = plan.flow;
  nf.fwd_x.src = snat;
  nf.fwd_x.sport = nf.rev.dport;
  nf.fwd_x.rewrite |= kRewriteSrc;
  nf.rev_x.dst = p.key.src;
  nf.rev_x.dport = p.key.sport;
  nf.rev_x.rewrite |= kRewriteDst;
  return true;
}

// The NetworkPolicy verdict on a flow from the client to `server`:`port` (after DNAT).
bool plan_policy(const Tables& t, FlowPlan& plan, const Parsed& p, const Addr& server, uint16_t port) {
  if (!t.policy.active) return true;
  plan.policy_checked = true;
  plan.policy = policy_decide(t.policy, p.family, p.key.src, server, p.proto, port);
  if (plan.policy.allow) return true;
  plan.action = PlanAction::kDrop;
  plan.reason = plan.policy.denied_egress ? Drop::policy_egress : Drop::policy_ingress;
  return false;
}

void plan_drop(FlowPlan& plan, PlanAction a, Drop why) {
  plan.action = a;
  plan.reason = why;
}

// A flow to a VIP address.
void plan_service(const PipelineEnv& env, const Tables& t, const Parsed& p, uint64_t now_ms, FlowPlan& plan) {
  const ServiceTable& st = t.services;
  const ServicePort* svc = st.find(p.family, p.proto, p.key.dst, p.key.dport);
  plan.svc = svc;
  // A node address that only carries NodePorts: everything else on it is the host's business.
  if (!svc && !st.owns_vip(p.family, p.key.dst)) return;
  if (p.fragment) return plan_drop(plan, PlanAction::kDrop, Drop::fragment);
  if (p.proto != kTCP && p.proto != kUDP) {
    if (p.icmp_echo_request) return plan_drop(plan, PlanAction::kEcho, Drop::none);
    return plan_drop(plan, PlanAction::kDrop, Drop::vip_bad_proto);
  }
  if (!svc) return plan_drop(plan, PlanAction::kReject, Drop::no_service_port);
  if (p.proto == kTCP && (p.tcp_flags & kTcpRst)) return plan_drop(plan, PlanAction::kDrop, Drop::stale_flow);
  const auto& allowed = p.family == 4 ? svc->source4 : svc->source6;
  if ((!svc->source4.empty() || !svc->source6.empty()) && !in_range_set(allowed, p.key.src))
    return plan_drop(plan, PlanAction::kDrop, Drop::source_range);
  const Backend* be = choose_backend(env, *svc, p, now_ms, plan);
  plan.be = be;
  if (!be)
    return plan_drop(plan, svc->drop_without_backends ? PlanAction::kDrop : PlanAction::kReject, Drop::no_backend);
  // Policy sees the endpoint pod (after DNAT) and the real client (before any masquerade).
  if (!plan_policy(t, plan, p, be->addr, be->port)) return;
  NewFlow& nf = plan.flow;
  nf.fwd = p.key;
  nf.rev.family = p.family;
  nf.rev.proto = p.proto;
  nf.rev.src = be->addr;
  nf.rev.dst = p.key.src;
  nf.rev.sport = be->port;
  nf.rev.dport = p.key.sport;
  nf.fwd_x.dst = be->addr;
  nf.fwd_x.dport = be->port;
  nf.fwd_x.rewrite = kRewriteDst;
  nf.rev_x.src = p.key.dst;
  nf.rev_x.sport = p.key.dport;
  nf.rev_x.rewrite = kRewriteSrc;
  // Masquerade: the spec asks for it (external traffic, externalTrafficPolicy Cluster), or
  // the client is its own backend (hairpin: its reply would never leave the pod otherwise).
  const Addr* snat = nullptr;
  if (svc->masquerade) snat = &svc->masquerade_addr;
  else if (be->addr == p.key.src) snat = p.family == 4 ? &env.hairpin4 : &env.hairpin6;
  if (snat && !plan_snat(env, t, plan, p, *snat, now_ms, true)) return;
  nf.svc_slot = svc->slot;
  nf.be_slot = be->slot;
  plan.kind = FlowKind::kService;
  plan.insert = true;
  plan.action = PlanAction::kAdmit;
}

bool masquerades(const MasqConfig& m, const Parsed& p) {
  if (p.family == 4 ? !m.v4 : !m.v6) return false;
  if (!in_range_set(p.family == 4 ? m.pods4 : m.pods6, p.key.src)) return false;
  return !in_range_set(p.family == 4 ? m.exempt4 : m.exempt6, p.key.dst);
}

// Pod traffic leaving the cluster: SNAT to the node address (after the pod's egress policy).
void plan_masquerade(const PipelineEnv& env, const Tables& t, const Parsed& p, uint64_t now_ms, FlowPlan& plan) {
  if (!plan_policy(t, plan, p, p.key.dst, p.key.dport)) return;
  NewFlow& nf = plan.flow;
  nf.fwd = p.key;
  nf.rev.family = p.family;
  nf.rev.proto = p.proto;
  nf.rev.src = p.key.dst;
  nf.rev.sport = p.key.dport;
  const MasqConfig& m = masq_of(t);
  if (!plan_snat(env, t, plan, p, p.family == 4 ? m.src4 : m.src6, now_ms, false)) return;
  nf.svc_slot = UINT32_MAX;
  nf.be_slot = UINT32_MAX;
  plan.kind = FlowKind::kMasquerade;
  plan.insert = true;
  plan.action = PlanAction::kAdmit;
}

// Pod-to-pod (or pod-to-outside) traffic when some pod is isolated, or when the kernel cache
// can carry it: decide on the first packet and keep an untranslated flow so the replies of an
// allowed flow pass.
// `cache`: keep the record whatever the policy says, for the kernel flow cache to follow.
void plan_tracked(const Tables& t, const Parsed& p, FlowPlan& plan, bool cache) {
  if (!plan_policy(t, plan, p, p.key.dst, p.key.dport)) return;
  plan.kind = FlowKind::kTracked;
  plan.action = PlanAction::kAdmit;
  plan.insert = plan.policy.tracked || cache;
  NewFlow& nf = plan.flow;
  nf.fwd = p.key;
  nf.rev = p.key;
  nf.rev.src = p.key.dst;
  nf.rev.dst = p.key.src;
  nf.rev.sport = p.key.dport;
  nf.rev.dport = p.key.sport;
  nf.svc_slot = UINT32_MAX;
  nf.be_slot = UINT32_MAX;
}

// A TCP/UDP packet the kernel cache can carry once the engine keeps a record of its flow: both
// ends are pods of this node, or one end is and the other is one of the cluster's own
// addresses off this node (another node's pod, another node) while the fast path knows
// the devices off-node traffic enters by (the uplinks, the VXLAN device).
bool cacheable_pair(const Tables& t, const Parsed& p) {
  if (!t.pods || (p.proto != kTCP && p.proto != kUDP) || p.fragment || p.later_fragment) return false;
  bool src = t.pods->find(p.family, p.key.src) != nullptr, dst = t.pods->find(p.family, p.key.dst) != nullptr;
  if (src && dst) return true;
  if (t.pods->uplinks().empty()) return false;
  return (src && t.pods->is_peer(p.family, p.key.dst)) || (dst && t.pods->is_peer(p.family, p.key.src));
}

// Whether a flow with an end off-node may be cached (see plan_cache).
bool off_node_ok(const Tables& t, const Parsed& p, const FlowPlan& plan, const LocalPod* client, const LocalPod* srv,
                 const Addr& server) {
  // A pod's flow out: to the cluster, or with the source the engine's own (masquerade).
  if (client) return t.pods->is_peer(p.family, server) || (plan.flow.fwd_x.rewrite & kRewriteSrc);
  // Into a pod: from the cluster, or a service flow from outside (NodePort, LB IP, externalIP).
  if (srv) return plan.kind == FlowKind::kService || t.pods->is_peer(p.family, p.key.src);
  return plan.kind == FlowKind::kService;  // passing through
}

// An admitted TCP/UDP flow (after any translation) between two local pods is cached: the
// forward direction enters at the client's veth and goes to the server's, the reverse the
// other way. While the fast path knows an uplink, so is a flow with one end off-node: a service
// flow (NodePort, LB IP, externalIP, with or without masquerade) from an off-node client to a
// pod here, a pod's flow to a Service whose backend is on another node, a pod's
// egress-masquerade flow, and plain pod traffic to or from another node. The direction towards
// the pod enters at the uplinks; the other leaves by the kernel's route. An untranslated end
// off-node must be one of the cluster's own addresses (PodTable::is_peer): towards anything
// else the node itself may NAT the pod's traffic, which the cache would bypass. A service flow
// neither of whose ends is a pod here (a NodePort whose endpoint is on another node) passes
// through: both directions enter at the uplinks and leave by the kernel's route.
void plan_cache(const Tables& t, const Parsed& p, FlowPlan& plan) {
  if (!t.pods || plan.action != PlanAction::kAdmit || !plan.insert) return;
  if (p.proto != kTCP && p.proto != kUDP) return;
  const NewFlow& nf = plan.flow;
  const Addr& server = (nf.fwd_x.rewrite & kRewriteDst) ? nf.fwd_x.dst : nf.fwd.dst;
  const Addr& back_to = (nf.rev_x.rewrite & kRewriteDst) ? nf.rev_x.dst : nf.rev.dst;
  if (back_to != p.key.src || nf.rev.src != server) return;
  const LocalPod* client = t.pods->find(p.family, p.key.src);
  const LocalPod* srv = t.pods->find(p.family, server);
  if (client && srv) {
    plan.cache.client = client;
    plan.cache.server = srv;
  } else if (!t.pods->uplinks().empty() && off_node_ok(t, p, plan, client, srv, server)) {
    plan.cache.client = client;
    plan.cache.server = srv;
    plan.cache.uplinks = t.pods;
  }
}

}  // namespace

uint8_t initial_state(const Parsed& p) {
  // A mid-stream TCP packet (after a restart or an eviction) resumes as established:
  // Maglev gives the same backend it had before.
  if (p.proto != kTCP) return kUnreplied;
  return (p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn ? kSynSent : kEstablished;
}

FlowPlan plan_new_flow(const PipelineEnv& env, const Tables& t, const Parsed& p, uint64_t now_ms) {
  FlowPlan plan;
  if (is_probe(env, p)) {
    plan.probe = true;
    plan_drop(plan, PlanAction::kEcho, Drop::none);
  } else if (t.services.is_vip(p.family, p.key.dst)) {
    plan_service(env, t, p, now_ms, plan);
  } else {
    bool echo = p.icmp_echo_request || p.icmp_echo_reply;
    bool trackable = !p.later_fragment && (p.proto == kTCP || p.proto == kUDP || (echo && t.policy.active));
    bool rst = p.proto == kTCP && (p.tcp_flags & kTcpRst);
    if (!p.later_fragment && !p.fragment && (p.proto == kTCP || p.proto == kUDP) && !rst && t.masq &&
        masquerades(*t.masq, p))
      plan_masquerade(env, t, p, now_ms, plan);
    else if (trackable && !rst) {
      bool cache = cacheable_pair(t, p);
      if (t.policy.active || cache) plan_tracked(t, p, plan, cache);
    }
  }
  plan.flow.state = initial_state(p);
  plan_cache(t, p, plan);
  return plan;
}

Result commit_new_flow(const PipelineEnv& env, const Tables& t, const FlowPlan& plan, uint8_t* pkt, const Parsed& p,
                       VnetHdr* vh, uint64_t now_ms, uint8_t* scratch) {
  FlowTable& flows = *env.flows;
  if (plan.affinity_stale.valid()) flows.remove(plan.affinity_stale.idx, plan.affinity_stale.gen);
  if (plan.affinity_touch) flows.touch(plan.affinity_hit, 0, now_ms);
  if (plan.affinity_insert) {
    FlowHit ah;
    flows.insert(plan.affinity, now_ms, ah);  // a full table only costs us the stickiness
  }
  if (plan.policy_checked && !policy_admits(env, t.policy, plan.policy)) return policy_drop(env, t.policy, plan, p);
  switch (plan.action) {
    case PlanAction::kPass:
      env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
      return forward_packet(pkt, p.len);
    case PlanAction::kDrop:
      return count_drop(env, plan.reason);
    case PlanAction::kReject:
      return reject(env, pkt, p, vh, scratch, plan.reason);
    case PlanAction::kEcho:
      env.counters->reply(plan.probe ? Reply::probe_reply : Reply::echo_reply);
      if (vh) *vh = VnetHdr{};
      return Result{Verdict::kReply, Drop::none, pkt, echo_reply_in_place(pkt, p)};
    case PlanAction::kAdmit:
      break;
  }
  if (plan.snat_takeover.valid()) flows.remove(plan.snat_takeover.idx, plan.snat_takeover.gen);
  if (plan.kind == FlowKind::kTracked) {
    FlowHit hit;
    // Full table: the next packet is decided again.
    if (plan.insert && flows.insert(plan.flow, now_ms, hit)) {
      if (env.cache && plan.cache.ok()) env.cache->install(plan, hit);
      if (env.monitoring()) report_new_flow(env, t.policy, plan, p, hit);
    }
    env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
    return forward_packet(pkt, p.len);
  }
  FlowHit hit;
  if (!flows.insert(plan.flow, now_ms, hit)) return count_drop(env, Drop::flow_table_full);
  if (env.cache && plan.cache.ok()) env.cache->install(plan, hit);
  if (env.monitoring()) report_new_flow(env, t.policy, plan, p, hit);
  if (plan.kind == FlowKind::kService) count_flow(env, hit.svc_slot, hit.be_slot);
  translate(pkt, p, vh, hit.x);
  if (plan.kind == FlowKind::kService) count_packet(env, hit.svc_slot, hit.be_slot, p.len);
  return forward_packet(pkt, p.len);
}

bool is_probe(const PipelineEnv& env, const Parsed& p) {
  return p.icmp_echo_request && !p.fragment && !p.later_fragment && p.key.dst == (p.family == 4 ? env.probe4 : env.probe6);
}

}  // namespace podnet
