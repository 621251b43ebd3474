/* Off-node delivery for the flow cache program (PODNET_ACT_REDIRECT_FIB: the direction of a
 * flow that leaves the node, such as the reply of a flow from outside to a pod here, a pod's
 * packets to another node's pod or to the outside, a flow passing through), included by
 * flow_cache.bpf.c: the entry says only how to translate; where the packet goes is asked of
 * the kernel's FIB on every packet (bpf_fib_lookup from the ingress device with the translated
 * addresses and ports, so policy routing rules apply as they would to the forwarded packet). The lookup runs before anything
 * is rewritten: when it does not succeed the packet is punted untouched and takes the TUN
 * path, where the engine answers (ICMP fragmentation needed / packet too big for an oversize
 * packet). On success the egress device and next hop are the kernel's own answer at that
 * moment, so a moved route or a changed neighbour is followed with the next packet and no
 * entry ever needs invalidating for it; bpf_redirect_neigh to the lookup's device and next hop
 * hands it to the neighbour layer (see fib_redirect). The egress MTU: the lookup itself
 * refuses a non-GSO packet larger than the egress device's MTU; a GSO packet is checked by its
 * segment size here, and the entry's own mtu (the uplinks' smallest, from the engine) applies
 * first as for every action. Lookups that name the ingress device again are punted unless the
 * entry is a flow passing through the node (PODNET_FLOW_HAIRPIN: in by an uplink, out by the
 * same one towards another node); the TTL decrement bounds any loop.
 *
 * Why a lookup of our own rather than bpf_redirect_neigh without a next hop (the helper then
 * looks the route up itself): that one cannot say no. A reply without a route, to a local
 * address or larger than the egress MTU would be dropped inside the helper instead of reaching
 * the engine (no ICMP error, no TUN path), and the egress device, hence its MTU, would not be
 * known before the packet is already rewritten.
 *
 * podnet's own policy routing rules send a pod's packets into the TUN only as they enter
 * from the bridge (from the pod CIDR, iif the bridge) and other nodes' packets only as they
 * enter from the uplink (to the pod CIDR, iif the uplink or VXLAN device). The lookup asks
 * from the pod's veth, or for a flow passing through from an uplink towards another node, so
 * neither rule applies: it answers as the kernel's forwarding after the TUN would.
 */
#ifndef PODNET_FIB_BPF_H
#define PODNET_FIB_BPF_H

/* The FIB's route for the packet as the entry will have translated it, from the ingress
 * device. Returns a stat to punt with, or -1 with `fib` filled for fib_redirect (a route
 * found, its neighbour resolved or not). Nothing in the packet changes. */
static __always_inline int fib_route(struct __sk_buff *skb, const struct parsed *p, const struct podnet_flow_value *v,
                                     struct bpf_fib_lookup *fib)
{
  __builtin_memset(fib, 0, sizeof(*fib));
  const __u8 *src = (v->rewrite & PODNET_RW_SADDR) ? v->new_saddr : p->key.saddr;
  const __u8 *dst = (v->rewrite & PODNET_RW_DADDR) ? v->new_daddr : p->key.daddr;
  fib->l4_protocol = p->key.proto;
  fib->sport = (v->rewrite & PODNET_RW_SPORT) ? v->new_sport : p->key.sport;
  fib->dport = (v->rewrite & PODNET_RW_DPORT) ? v->new_dport : p->key.dport;
  fib->ifindex = p->key.ifindex;
  if (p->key.family == 4) {
    fib->family = AF_INET;
    __builtin_memcpy(&fib->ipv4_src, src, 4);
    __builtin_memcpy(&fib->ipv4_dst, dst, 4);
  } else {
    fib->family = AF_INET6;
    __builtin_memcpy(fib->ipv6_src, src, 16);
    __builtin_memcpy(fib->ipv6_dst, dst, 16);
  }
  /* tot_len 0: on success the helper checks a non-GSO skb against the egress MTU itself
   * (FRAG_NEEDED) and returns that MTU in mtu_result */
  long rc = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
  if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
    return PODNET_STAT_PUNT_MTU;
  if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
    return PODNET_STAT_PUNT_FIB;
  if (fib->ifindex == p->key.ifindex && !(v->flags & PODNET_FLOW_HAIRPIN))
    return PODNET_STAT_PUNT_FIB;
  /* mtu_result is only set on SUCCESS; without a neighbour yet the entry's mtu stands */
  if (rc == BPF_FIB_LKUP_RET_SUCCESS && skb->gso_size && skb->gso_size + p->hdr_len > fib->mtu_result)
    return PODNET_STAT_PUNT_MTU;
  return -1;
}

/* Sends the rewritten packet where fib_route found the route: out of its device to its next
 * hop (the gateway, or the destination itself on a connected route), through the kernel's
 * neighbour output, which fills in the MACs and keeps the neighbour entry's own state
 * machine running (a bpf_redirect with the lookup's MACs would keep using a STALE entry's
 * address without ever re-confirming it). */
static __always_inline int fib_redirect(const struct bpf_fib_lookup *fib)
{
  struct bpf_redir_neigh nh = {};
  if (fib->family == AF_INET) {
    nh.nh_family = AF_INET;
    nh.ipv4_nh = fib->ipv4_dst;
  } else {
    nh.nh_family = AF_INET6;
    __builtin_memcpy(nh.ipv6_nh, fib->ipv6_dst, 16);
  }
  return bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
}

#endif /* PODNET_FIB_BPF_H */
