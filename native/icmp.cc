// Stage 3: ICMP errors about a tracked flow. The error quotes the packet that caused it;
// that packet was already translated by us, so the quote (and the error's own address)
// must be translated back, or the sender cannot match it to its socket and path MTU
// discovery through a VIP breaks. Mirrors what netfilter's nf_nat_icmp_reply_translation does.
#include "checksum.h"
#include "pipeline.h"

namespace podnet {

namespace {

FlowKey swapped(const FlowKey& k) {
  FlowKey r = k;
  r.src = k.dst;
  r.dst = k.src;
  r.sport = k.dport;
  r.dport = k.sport;
  return r;
}

void set_addr(uint8_t* ip, uint8_t family, bool dst, const Addr& a) {
  if (family == 4) std::memcpy(ip + (dst ? 16 : 12), a.b, 4);
  else std::memcpy(ip + (dst ? 24 : 8), a.b, 16);
}

}  // namespace

Result translate_icmp_error(const PipelineEnv& env, const ServiceTable& st, uint8_t* pkt, const Parsed& p,
                            VnetHdr* vh, uint64_t now_ms) {
  uint8_t* icmp = pkt + p.l4_off;
  uint8_t* inner = icmp + 8;
  size_t inner_cap = p.l4_len - 8;
  Parsed q;
  bool ours = st.is_vip(p.family, p.key.dst);
  if (!parse_packet(inner, inner_cap, q, nullptr, true) || q.family != p.family ||
      (q.proto != kTCP && q.proto != kUDP) || q.later_fragment) {
    if (ours) {
      env.counters->drop(Drop::icmp_untracked);
      return Result{Verdict::kDrop, Drop::icmp_untracked, nullptr, 0};
    }
    env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
    return Result{Verdict::kForward, Drop::none, pkt, p.len};
  }
  FlowHit hit;
  if (!env.flows->lookup(swapped(q.key), now_ms, hit)) {
    if (ours || st.is_vip(p.family, q.key.src)) {
      env.counters->drop(Drop::icmp_untracked);
      return Result{Verdict::kDrop, Drop::icmp_untracked, nullptr, 0};
    }
    env.counters->passthrough.fetch_add(1, std::memory_order_relaxed);
    return Result{Verdict::kForward, Drop::none, pkt, p.len};
  }
  // The quote Q is a packet we translated; K = swapped(Q) is the key it matched before, x its
  // translation, K' = x(K). The quote must read swapped(K') again and the error must go to
  // whoever sent Q in the first place: the outer destination Q.src becomes K'.dst, and an
  // outer source equal to Q.dst (the peer answered itself) becomes K'.src.
  const Translation& x = hit.x;
  Addr q_src = q.key.src, q_dst = q.key.dst;
  if (x.rewrite & kRewriteDst) rewrite(inner, q, nullptr, false, x.dst, x.dport);
  if (x.rewrite & kRewriteSrc) rewrite(inner, q, nullptr, true, x.src, x.sport);
  if ((x.rewrite & kRewriteDst) && p.key.dst == q_src) set_addr(pkt, p.family, true, x.dst);
  if ((x.rewrite & kRewriteSrc) && p.key.src == q_dst) set_addr(pkt, p.family, false, x.src);
  // Errors are small: recompute the outer checksums rather than chase every changed word.
  store16(icmp + 2, 0);
  if (p.family == 4) {
    store16(pkt + 10, 0);
    store16(pkt + 10, csum_full(pkt, p.l4_off));
    store16(icmp + 2, csum_full(icmp, p.l4_len));
  } else {
    uint32_t s = pseudo_sum(6, pkt + 8, pkt + 24, kICMPv6, p.l4_len);
    store16(icmp + 2, uint16_t(~csum_fold(csum_partial(icmp, p.l4_len, s))));
  }
  if (vh) vh->flags &= uint8_t(~kVnetNeedsCsum);
  if (hit.svc_slot < env.svc_capacity) env.svc_counters[hit.svc_slot].add(p.len);
  return Result{Verdict::kForward, Drop::none, pkt, p.len};
}

}  // namespace podnet
