// Stages 4, 5 and 7 of the pipeline and the dispatcher; see pipeline.h for the order.
#include "pipeline.h"

#include <algorithm>

#include "checksum.h"

namespace podnet {

namespace {

Result drop(const PipelineEnv& env, Drop d) {
  env.counters->drop(d);
  return Result{Verdict::kDrop, d, nullptr, 0};
}

Result forward(uint8_t* pkt, size_t len) { return Result{Verdict::kForward, Drop::count, pkt, len}; }

void count(const PipelineEnv& env, uint32_t svc_slot, uint32_t be_slot, size_t bytes) {
  if (svc_slot < env.svc_capacity) env.svc_counters[svc_slot].add(bytes);
  if (be_slot < env.be_capacity) env.be_counters[be_slot].add(bytes);
}

void count_flow(const PipelineEnv& env, uint32_t svc_slot, uint32_t be_slot) {
  if (svc_slot < env.svc_capacity) env.svc_counters[svc_slot].flows.fetch_add(1, std::memory_order_relaxed);
  if (be_slot < env.be_capacity) env.be_counters[be_slot].flows.fetch_add(1, std::memory_order_relaxed);
}

// State of a flow created by this packet. A mid-stream TCP packet (after a restart or an
// eviction) resumes as established: Maglev gives the same backend it had before.
uint8_t initial_state(const Parsed& p) {
  if (p.proto != kTCP) return 0;
  return (p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn ? kSynSent : kEstablished;
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

// Stage 4 for a cut TCP flow (kReset): both endpoints still believe in the connection, so
// instead of forwarding the packet from A to B (sequence S, acknowledging K), A gets a RST
// with sequence K, its own ack, and B a RST with sequence S, addressed as the flow would have
// translated the packet (a client sees the VIP). Each is what that end expects next, so both
// close at once instead of waiting out a timeout for replies that will never come right.
// A RST from either end is passed on translated and never answered.
Result reset_cut_flow(const PipelineEnv& env, uint8_t* pkt, const Parsed& p, VnetHdr* vh, const FlowHit& hit,
                      uint8_t* scratch) {
  if (p.tcp_flags & kTcpRst) {
    translate(pkt, p, vh, hit.x);
    return forward(pkt, p.len);
  }
  env.counters->drop(Drop::reset_cut_flow);
  env.counters->reply(Reply::rst);
  env.counters->reply(Reply::rst);
  if (vh) *vh = VnetHdr{};
  uint8_t* onward = scratch + kScratchSize / 2;
  Result r{Verdict::kReply, Drop::reset_cut_flow, scratch, build_tcp_rst(pkt, p, scratch)};
  r.out2 = onward;
  r.out2_len = build_tcp_rst_onward(pkt, p, hit.x, onward);
  return r;
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

// The ClientIP affinity record of (client address, service port): proto 255, the real
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

// ClientIP affinity: the backend this client used within the timeout, if still active.
const Backend* affinity_backend(const PipelineEnv& env, const ServicePort& svc, const FlowKey& aff,
                                uint64_t now_ms, FlowHit& hit) {
  if (!env.flows->lookup(aff, now_ms, hit)) return nullptr;
  const Backend* b = svc.find(hit.x.dst, hit.x.dport);
  if (!b || b->terminating) {
    env.flows->remove(hit.idx, hit.gen);
    return nullptr;
  }
  env.flows->touch(hit, 0, now_ms);
  return b;
}

const Backend* choose_backend(const PipelineEnv& env, const ServicePort& svc, const Parsed& p, uint64_t now_ms) {
  if (svc.affinity_timeout_ms == 0) return svc.pick(hash_key(p.key));
  FlowKey aff = affinity_key(p);
  FlowHit hit;
  if (const Backend* b = affinity_backend(env, svc, aff, now_ms, hit)) return b;
  // The first connection of a client picks by client address only, so that concurrent
  // first connections of one client agree even before the affinity record exists.
  const Backend* b = svc.pick(hash_bytes(p.key.src.b, 16, p.family));
  if (!b) return nullptr;
  NewFlow nf{};
  nf.fwd = aff;
  nf.fwd_x.dst = b->addr;
  nf.fwd_x.dport = b->port;
  nf.fwd_x.rewrite = kRewriteDst;
  nf.svc_slot = svc.slot;
  nf.be_slot = b->slot;
  nf.single = true;
  nf.extra_timeout_ms = svc.affinity_timeout_ms;
  env.flows->insert(nf, now_ms, hit);  // a full table only costs us the stickiness
  return b;
}

// Picks the masqueraded source port: the client's own when free, else a hashed one, so the
// reverse key (backend -> SNAT address:port) is unique. Returns false when 64 tries collide.
// `any_port`: the client's own port may be used even outside the range (service masquerade,
// whose replies come back through the engine on any port); egress masquerade stays in range
// because the uplink steers only that range into the TUN. A port held by a closed TCP flow
// (TIME_WAIT, RST) is taken over, as netfilter does, or short connections exhaust the range.
bool snat_port(const PipelineEnv& env, NewFlow& nf, const Addr& snat, uint64_t now_ms, bool any_port) {
  nf.rev.dst = snat;
  uint64_t h = hash_key(nf.fwd);
  uint32_t lo = env.masq->port_lo, span = uint32_t(env.masq->port_hi) - lo + 1;
  bool own_fits = any_port || (nf.fwd.sport >= lo && nf.fwd.sport <= env.masq->port_hi);
  for (uint32_t i = own_fits ? 0 : 1; i < 64; i++) {
    nf.rev.dport = i == 0 ? nf.fwd.sport : uint16_t(lo + mix64(h + i) % span);
    FlowHit taken;
    if (!env.flows->lookup(nf.rev, now_ms, taken)) return true;
    uint8_t base = taken.state & kStateMask;
    if (taken.proto == kTCP && (base == kTimeWait || base == kClose || base == kReset)) {
      env.flows->remove(taken.idx, taken.gen);
      return true;
    }
  }
  return false;
}

Result new_flow(const PipelineEnv& env, const Tables& t, uint8_t* pkt, const Parsed& p, VnetHdr* vh,
                uint64_t now_ms, uint8_t* scratch) {
  const ServiceTable& st = t.services;
  const ServicePort* svc = st.find(p.family, p.proto, p.key.dst, p.key.dport);
  if (!svc && !st.owns_vip(p.family, p.key.dst)) {
    // A node address that only carries NodePorts: everything else on it is the host's business.
    env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
    return forward(pkt, p.len);
  }
  if (p.fragment) return drop(env, Drop::fragment);
  if (p.proto != kTCP && p.proto != kUDP) {
    if (p.icmp_echo_request) {
      env.counters->reply(Reply::echo_reply);
      if (vh) *vh = VnetHdr{};
      return Result{Verdict::kReply, Drop::count, pkt, echo_reply_in_place(pkt, p)};
    }
    return drop(env, Drop::vip_bad_proto);
  }
  if (!svc) return reject(env, pkt, p, vh, scratch, Drop::no_service_port);
  if (p.proto == kTCP && (p.tcp_flags & kTcpRst)) return drop(env, Drop::stale_flow);
  const auto& allowed = p.family == 4 ? svc->source4 : svc->source6;
  if ((!svc->source4.empty() || !svc->source6.empty()) && !in_range_set(allowed, p.key.src))
    return drop(env, Drop::source_range);
  const Backend* be = choose_backend(env, *svc, p, now_ms);
  if (!be) {
    if (svc->drop_without_backends) return drop(env, Drop::no_backend);
    return reject(env, pkt, p, vh, scratch, Drop::no_backend);
  }
  // Policy sees the endpoint pod (after DNAT) and the real client (before any masquerade).
  if (t.policy.active) {
    PolicyDecision d = policy_decide(t.policy, p.family, p.key.src, be->addr, p.proto, be->port);
    if (!policy_admits(env, t.policy, d))
      return Result{Verdict::kDrop, d.denied_egress ? Drop::policy_egress : Drop::policy_ingress, nullptr, 0};
  }

  NewFlow nf{};
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
  if (snat) {
    if (!snat_port(env, nf, *snat, now_ms, true)) return drop(env, Drop::snat_exhausted);
    nf.fwd_x.src = *snat;
    nf.fwd_x.sport = nf.rev.dport;
    nf.fwd_x.rewrite |= kRewriteSrc;
    nf.rev_x.dst = p.key.src;
    nf.rev_x.dport = p.key.sport;
    nf.rev_x.rewrite |= kRewriteDst;
  }
  nf.svc_slot = svc->slot;
  nf.be_slot = be->slot;
  nf.state = initial_state(p);
  FlowHit hit;
  if (!env.flows->insert(nf, now_ms, hit)) return drop(env, Drop::flow_table_full);
  count_flow(env, hit.svc_slot, hit.be_slot);
  translate(pkt, p, vh, hit.x);
  count(env, hit.svc_slot, hit.be_slot, p.len);
  return forward(pkt, p.len);
}

}  // namespace

bool in_range_set(const std::vector<IpRange>& v, const Addr& a) {
  auto it = std::upper_bound(v.begin(), v.end(), a,
                             [](const Addr& x, const IpRange& r) { return std::memcmp(x.b, r.lo.b, 16) < 0; });
  if (it == v.begin()) return false;
  --it;
  return std::memcmp(a.b, it->hi.b, 16) <= 0;
}

void trace_packet(const PipelineEnv& env, const Tables& t, const uint8_t* pkt, size_t len, uint64_t now_ms,
                  TraceInfo& out) {
  const ServiceTable& st = t.services;
  out = TraceInfo{Verdict::kForward, Drop::count, false, false, nullptr, {}, {}};
  Parsed p;
  Drop why;
  if (!parse_packet(pkt, len, p, &why)) {
    out.verdict = Verdict::kDrop;
    out.reason = why;
    return;
  }
  FlowHit hit;
  if (!p.later_fragment && (p.proto == kTCP || p.proto == kUDP) && env.flows->lookup(p.key, now_ms, hit)) {
    out.existing_flow = true;
    out.x = hit.x;
  }
  if (!st.is_vip(p.family, p.key.dst)) {
    if (!out.existing_flow) {
      out.policy = policy_decide(t.policy, p.family, p.key.src, p.key.dst, p.proto, p.key.dport);
      if (!out.policy.allow) {
        out.verdict = Verdict::kDrop;
        out.reason = out.policy.denied_egress ? Drop::policy_egress : Drop::policy_ingress;
      }
    }
    return;
  }
  out.service = true;
  if (out.existing_flow) {
    out.svc = st.find(p.family, p.proto, p.key.dst, p.key.dport);
    return;
  }
  const ServicePort* svc = st.find(p.family, p.proto, p.key.dst, p.key.dport);
  out.svc = svc;
  if (p.proto != kTCP && p.proto != kUDP) {
    out.verdict = p.icmp_echo_request ? Verdict::kReply : Verdict::kDrop;
    out.reason = p.icmp_echo_request ? Drop::count : Drop::vip_bad_proto;
    return;
  }
  if (!svc) {
    out.verdict = Verdict::kReply;
    out.reason = Drop::no_service_port;
    return;
  }
  const Backend* be = nullptr;
  if (svc->affinity_timeout_ms) {
    FlowHit ah;
    if (env.flows->lookup(affinity_key(p), now_ms, ah)) be = svc->find(ah.x.dst, ah.x.dport);
    if (be && be->terminating) be = nullptr;
    if (!be) be = svc->pick(hash_bytes(p.key.src.b, 16, p.family));
  } else {
    be = svc->pick(hash_key(p.key));
  }
  if (!be) {
    out.verdict = Verdict::kReply;
    out.reason = Drop::no_backend;
    return;
  }
  out.x.dst = be->addr;
  out.x.dport = be->port;
  out.x.rewrite = kRewriteDst;
  out.policy = policy_decide(t.policy, p.family, p.key.src, be->addr, p.proto, be->port);
  if (!out.policy.allow) {
    out.verdict = Verdict::kDrop;
    out.reason = out.policy.denied_egress ? Drop::policy_egress : Drop::policy_ingress;
  }
  const Addr* snat = svc->masquerade ? &svc->masquerade_addr
                     : be->addr == p.key.src ? (p.family == 4 ? &env.hairpin4 : &env.hairpin6) : nullptr;
  if (snat) {
    out.x.src = *snat;
    out.x.sport = p.key.sport;
    out.x.rewrite |= kRewriteSrc;
  }
}

void rewrite(uint8_t* pkt, const Parsed& p, VnetHdr* vh, bool dst, const Addr& addr, uint16_t port) {
  size_t alen = addr_len(p.family);
  uint8_t* a = pkt + (p.family == 4 ? (dst ? 16 : 12) : (dst ? 24 : 8));
  uint8_t* l4 = pkt + p.l4_off;
  uint8_t* pp = l4 + (dst ? 2 : 0);
  uint8_t new_port[2];
  store16(new_port, port);
  uint16_t coff = l4_csum_offset(p.proto);
  bool has_ports = p.proto == kTCP || p.proto == kUDP;
  bool partial = vh && (vh->flags & kVnetNeedsCsum);
  if (has_ports && !p.later_fragment) {
    uint8_t* field = l4 + coff;
    bool csum_here = p.l4_len >= uint32_t(coff) + 2;  // a quoted header may be cut short
    bool udp_none = p.proto == kUDP && p.family == 4 && load16(field) == 0;
    if (!csum_here) {
    } else if (partial) {
      // The field holds the pseudo-header sum: only the address is in it.
      csum_replace_partial(field, a, addr.b, alen);
    } else if (!udp_none) {
      csum_replace(field, a, addr.b, alen);
      csum_replace(field, pp, new_port, 2);
      if (p.proto == kUDP && load16(field) == 0) store16(field, 0xffff);
    }
    std::memcpy(pp, new_port, 2);
  }
  if (p.family == 4) csum_replace(pkt + 10, a, addr.b, 4);
  std::memcpy(a, addr.b, alen);
}

// Pod traffic leaving the cluster: SNAT to the node address (after the pod's egress policy).
Result masq_flow(const PipelineEnv& env, const Tables& t, uint8_t* pkt, const Parsed& p, VnetHdr* vh,
                 uint64_t now_ms) {
  if (t.policy.active) {
    PolicyDecision d = policy_decide(t.policy, p.family, p.key.src, p.key.dst, p.proto, p.key.dport);
    if (!policy_admits(env, t.policy, d))
      return Result{Verdict::kDrop, d.denied_egress ? Drop::policy_egress : Drop::policy_ingress, nullptr, 0};
  }
  const Addr& src = p.family == 4 ? env.masq->src4 : env.masq->src6;
  NewFlow nf{};
  nf.fwd = p.key;
  nf.rev.family = p.family;
  nf.rev.proto = p.proto;
  nf.rev.src = p.key.dst;
  nf.rev.sport = p.key.dport;
  if (!snat_port(env, nf, src, now_ms, false)) return drop(env, Drop::snat_exhausted);
  nf.fwd_x.src = src;
  nf.fwd_x.sport = nf.rev.dport;
  nf.fwd_x.rewrite = kRewriteSrc;
  nf.rev_x.dst = p.key.src;
  nf.rev_x.dport = p.key.sport;
  nf.rev_x.rewrite = kRewriteDst;
  nf.svc_slot = UINT32_MAX;
  nf.be_slot = UINT32_MAX;
  nf.state = initial_state(p);
  FlowHit hit;
  if (!env.flows->insert(nf, now_ms, hit)) return drop(env, Drop::flow_table_full);
  translate(pkt, p, vh, hit.x);
  return forward(pkt, p.len);
}

bool masquerades(const MasqConfig& m, const Parsed& p) {
  if (p.family == 4 ? !m.v4 : !m.v6) return false;
  if (!in_range_set(p.family == 4 ? m.pods4 : m.pods6, p.key.src)) return false;
  return !in_range_set(p.family == 4 ? m.exempt4 : m.exempt6, p.key.dst);
}

// Pod-to-pod (or pod-to-outside) traffic when some pod is isolated: decide on the first
// packet and keep an untranslated flow so the replies of an allowed flow pass.
Result policy_flow(const PipelineEnv& env, const PolicyTable& pt, uint8_t* pkt, const Parsed& p, uint64_t now_ms) {
  PolicyDecision d = policy_decide(pt, p.family, p.key.src, p.key.dst, p.proto, p.key.dport);
  if (!policy_admits(env, pt, d)) return Result{Verdict::kDrop, d.denied_egress ? Drop::policy_egress : Drop::policy_ingress, nullptr, 0};
  if (d.tracked) {
    NewFlow nf{};
    nf.fwd = p.key;
    nf.rev = p.key;
    nf.rev.src = p.key.dst;
    nf.rev.dst = p.key.src;
    nf.rev.sport = p.key.dport;
    nf.rev.dport = p.key.sport;
    nf.svc_slot = UINT32_MAX;
    nf.be_slot = UINT32_MAX;
    nf.state = initial_state(p);
    FlowHit hit;
    env.flows->insert(nf, now_ms, hit);  // full table: the next packet is simply decided again
  }
  env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
  return forward(pkt, p.len);
}

Result process_packet(const PipelineEnv& env, const Tables& t, uint8_t* pkt, size_t len, VnetHdr* vh,
                      uint64_t now_ms, uint8_t* scratch) {
  const ServiceTable& st = t.services;
  Parsed p;
  Drop why;
  if (!parse_packet(pkt, len, p, &why)) return drop(env, why);
  if (vh && !vnet_check(*vh, p)) return drop(env, Drop::bad_vnet_hdr);
  if (p.icmp_error) return translate_icmp_error(env, st, pkt, p, vh, now_ms);

  bool echo = p.icmp_echo_request || p.icmp_echo_reply;
  bool trackable = !p.later_fragment && (p.proto == kTCP || p.proto == kUDP || (echo && t.policy.active));
  FlowHit hit;
  if (trackable && env.flows->lookup(p.key, now_ms, hit)) {
    if (hit.proto != kTCP || (hit.state & kStateMask) != kReset) {
      translate(pkt, p, vh, hit.x);
      env.flows->touch(hit, p.tcp_flags, now_ms);
      count(env, hit.svc_slot, hit.be_slot, p.len);
      return forward(pkt, p.len);
    }
    // A client reusing the port of a cut flow opens a new connection: judge it afresh (a
    // new backend, today's policy) rather than reset it. Not touched otherwise: the cut flow
    // lives tcp_close_ms from the cut, however chatty its ends are.
    if (hit.dir != kForward || (p.tcp_flags & (kTcpSyn | kTcpAck)) != kTcpSyn)
      return reset_cut_flow(env, pkt, p, vh, hit, scratch);
    env.flows->remove(hit.idx, hit.gen);
  }
  if (st.is_vip(p.family, p.key.dst)) return new_flow(env, t, pkt, p, vh, now_ms, scratch);
  bool rst = p.proto == kTCP && (p.tcp_flags & kTcpRst);
  if (!p.later_fragment && !p.fragment && (p.proto == kTCP || p.proto == kUDP) && !rst && env.masq &&
      masquerades(*env.masq, p))
    return masq_flow(env, t, pkt, p, vh, now_ms);
  if (trackable && t.policy.active && !rst) return policy_flow(env, t.policy, pkt, p, now_ms);
  env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
  return forward(pkt, p.len);
}

}  // namespace podnet
