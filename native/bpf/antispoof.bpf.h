/* Anti-spoofing, step 1 of the flow cache's tc program: flow_cache.bpf.c includes this after
 * its maps, counters and packet accessors, and runs it on every frame that enters a host
 * veth with a podnet_pods entry, before anything is parsed for the cache.
 *
 * The policy is the one of the u32 filters the CNI plugin installs on the same veth
 * (src/node/antispoof.ts), rule for rule, so a pod sees the same door whichever of the two
 * guards it; the reason names match the u32 ones where the u32 side counts the same lie:
 *   every frame   Ethernet source == the pod's MAC                              src_mac
 *   802.1Q/.1ad   dropped: the tag hides the inner ethertype from these rules    vlan_tagged
 *                 (the receive path moves the outer tag into skb->vlan_* before tc runs,
 *                 so both that and a tag still in the frame count)
 *   ARP           sender MAC == the pod's MAC, sender IP one of the pod's IPv4 or
 *                 0.0.0.0 (RFC 5227 probe)                                        arp_sender
 *   IPv4          source one of the pod's                                         src_ipv4
 *   IPv6 NA       (ICMPv6 136 right after the fixed header) target one of the
 *                 pod's IPv6 or fe80::/10: a pod must not claim a neighbour's
 *                 address in the node's neighbour cache                           ipv6_na_target
 *   IPv6 ext hdr  first next header Hop-by-Hop, Routing, Destination Options or
 *                 Mobility (an NA behind one would slip past the NA rule),
 *                 except an MLD report: 8-byte Hop-by-Hop, then ICMPv6 131/132/143,
 *                 from fe80::/10 or ::                                            ipv6_ext_header
 *   IPv6          source one of the pod's, fe80::/10, or :: for ICMPv6 (DAD)      src_ipv6
 *   other         any other ethertype passes (its one rule is the MAC above)
 * Two places are stricter than the u32 filters, as this program was before: an NA must also
 * pass the IPv6 source rule, and :: is a source only for ICMPv6 and MLD reports. A frame too
 * short for the field a rule reads is dropped by that rule (u32 matches nothing past the end,
 * so such a frame falls through to the same drop).
 */
#ifndef PODNET_ANTISPOOF_BPF_H
#define PODNET_ANTISPOOF_BPF_H

#define ARP_LEN 28
#define ARP_SHA 8
#define ARP_SPA 14
#define ICMPV6_NA 136
#define NA_LEN 24 /* ICMPv6 header, flags, target */
#define NA_TARGET 8

/* The spoof map entry of the pod is created on its first drop if the engine has not. */
static __always_inline int spoof_drop(__u32 ifindex, __u32 reason)
{
  struct podnet_spoof_counts *c = bpf_map_lookup_elem(&PODNET_MAP_SPOOF, &ifindex);
  if (!c) {
    struct podnet_spoof_counts zero = {};
    bpf_map_update_elem(&PODNET_MAP_SPOOF, &ifindex, &zero, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&PODNET_MAP_SPOOF, &ifindex);
  }
  if (c && reason < PODNET_SPOOF_MAX)
    c->drops[reason] += 1;
  count(PODNET_STAT_SPOOF_DROP);
  return TC_ACT_SHOT;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
  return *(const __u32 *)a == *(const __u32 *)b && *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

static __always_inline int addr16_eq(const __u8 *a, const __u8 *b)
{
  const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
  return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static __always_inline int link_local6(const __u8 *a)
{
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static __always_inline int unspecified6(const __u8 *a)
{
  const __u32 *w = (const __u32 *)a;
  return (w[0] | w[1] | w[2] | w[3]) == 0;
}

static __always_inline int pod_has_v4(const struct podnet_pod_addrs *pod, const __u8 *a)
{
#pragma unroll
  for (int i = 0; i < PODNET_POD_MAX_V4; i++)
    if (i < pod->n_v4 && *(const __u32 *)pod->v4[i] == *(const __u32 *)a)
      return 1;
  return 0;
}

static __always_inline int pod_has_v6(const struct podnet_pod_addrs *pod, const __u8 *a)
{
#pragma unroll
  for (int i = 0; i < PODNET_POD_MAX_V6; i++)
    if (i < pod->n_v6 && addr16_eq(pod->v6[i], a))
      return 1;
  return 0;
}

static __always_inline __u32 arp_reason(struct __sk_buff *skb, const struct podnet_pod_addrs *pod)
{
  const __u8 *arp = bytes_at(skb, ETH_LEN, ARP_LEN);
  if (!arp || !mac_eq(arp + ARP_SHA, pod->mac))
    return PODNET_SPOOF_ARP_SENDER;
  if (*(const __u32 *)(arp + ARP_SPA) == 0 || pod_has_v4(pod, arp + ARP_SPA))
    return PODNET_SPOOF_MAX;
  return PODNET_SPOOF_ARP_SENDER;
}

/* An MLD report as pods send it: an 8-byte Hop-by-Hop header (router alert) followed by
 * ICMPv6 131 (v1 report), 132 (v1 done) or 143 (v2 report). */
static __always_inline int mld_report(struct __sk_buff *skb)
{
  const __u8 *h = bytes_at(skb, ETH_LEN + IP6_LEN, 9);
  return h && h[0] == IPPROTO_ICMPV6 && h[1] == 0 && (h[8] == 131 || h[8] == 132 || h[8] == 143);
}

static __always_inline __u32 ipv6_reason(struct __sk_buff *skb, const struct podnet_pod_addrs *pod)
{
  const struct ipv6hdr *ip6 = (const void *)bytes_at(skb, ETH_LEN, IP6_LEN);
  if (!ip6)
    return PODNET_SPOOF_SRC_IPV6;
  /* copied: the reads below may pull the skb and invalidate packet pointers */
  __u8 src[16];
  __builtin_memcpy(src, &ip6->saddr, 16);
  __u8 nh = ip6->nexthdr;

  if (nh == IPPROTO_ICMPV6) {
    const __u8 *type = bytes_at(skb, ETH_LEN + IP6_LEN, 1);
    if (type && *type == ICMPV6_NA) {
      const __u8 *na = bytes_at(skb, ETH_LEN + IP6_LEN, NA_LEN);
      if (!na || !(pod_has_v6(pod, na + NA_TARGET) || link_local6(na + NA_TARGET)))
        return PODNET_SPOOF_IPV6_NA_TARGET;
    }
  }
  if (nh == IPPROTO_HOPOPTS && mld_report(skb) && (link_local6(src) || unspecified6(src)))
    return PODNET_SPOOF_MAX;
  if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS || nh == IPPROTO_MH)
    return PODNET_SPOOF_IPV6_EXT_HEADER;
  if (pod_has_v6(pod, src) || link_local6(src) || (nh == IPPROTO_ICMPV6 && unspecified6(src)))
    return PODNET_SPOOF_MAX;
  return PODNET_SPOOF_SRC_IPV6;
}

/* Why the pod's frame is a lie (enum podnet_spoof_reason), or PODNET_SPOOF_MAX if it is not. */
static __always_inline __u32 spoof_reason(struct __sk_buff *skb, const struct podnet_pod_addrs *pod, __u16 ethertype)
{
  const struct ethhdr *eth = (const void *)bytes_at(skb, 0, ETH_LEN);
  if (!eth || !mac_eq(eth->h_source, pod->mac))
    return PODNET_SPOOF_SRC_MAC;
  if (skb->vlan_present || ethertype == bpf_htons(ETH_P_8021Q) || ethertype == bpf_htons(ETH_P_8021AD))
    return PODNET_SPOOF_VLAN_TAGGED;
  if (ethertype == bpf_htons(ETH_P_ARP))
    return arp_reason(skb, pod);
  if (ethertype == bpf_htons(ETH_P_IP)) {
    const struct iphdr *ip = (const void *)bytes_at(skb, ETH_LEN, IP4_LEN);
    return ip && pod_has_v4(pod, (const __u8 *)&ip->saddr) ? PODNET_SPOOF_MAX : PODNET_SPOOF_SRC_IPV4;
  }
  if (ethertype == bpf_htons(ETH_P_IPV6))
    return ipv6_reason(skb, pod);
  return PODNET_SPOOF_MAX;
}

/* Step 1: TC_ACT_SHOT after counting the drop per pod and reason, or 0 to go on. */
static __always_inline int antispoof(struct __sk_buff *skb, const struct podnet_pod_addrs *pod, __u32 ifindex,
                                     __u16 ethertype)
{
  __u32 why = spoof_reason(skb, pod, ethertype);
  return why < PODNET_SPOOF_MAX ? spoof_drop(ifindex, why) : 0;
}

#endif /* PODNET_ANTISPOOF_BPF_H */
