/* Kernel flow cache: the tc ingress program on each pod's host veth and on the node's uplinks.
 *
 * Steps, in order:
 *   1. anti-spoofing, when the ingress ifindex has a podnet_pods entry (antispoof.bpf.h,
 *      the policy of the CNI's u32 filters): Ethernet source, ARP sender, IPv4/IPv6 source
 *      and NA target must be the pod's; VLAN tags and IPv6 extension headers (but MLD
 *      reports) are dropped; drops are counted per pod and reason.
 *   2. parse Ethernet -> IPv4/IPv6 -> TCP/UDP/ICMP echo and punt (unchanged, counted by
 *      reason) whatever the engine must see: a connection's first SYN, RST, fragments, IPv4
 *      options, IPv6 extension headers, TTL <= 1, ICMP errors, truncated headers.
 *   3. look the 5-tuple up in podnet_flows; a miss is punted unchanged (-> TUN -> engine).
 *   4. on a hit: MTU check (and, for off-node delivery, the FIB lookup), rewrite
 *      addresses/ports with incremental checksums, decrement TTL for redirects, account,
 *      then redirect_peer / redirect (FIB) / redirect_neigh / pass.
 *
 * Off-node delivery (PODNET_ACT_REDIRECT_FIB, the reply of a flow from outside): a FIB lookup
 * per packet decides where it goes; see fib.bpf.h.
 *
 * Verdicts:
 *   TC_ACT_UNSPEC (-1)  punt and miss: "no opinion", so whatever is attached after this
 *                       program still runs: on clsact the next filter (the u32 anti-spoofing
 *                       filters may share the veth's ingress), on tcx the next program
 *                       (TCX_NEXT), then legacy tc. With nothing after it the kernel passes
 *                       the packet on, as TC_ACT_OK would.
 *   TC_ACT_OK           hit with the pass action: the rewritten packet goes on to the
 *                       kernel's routing and no later filter sees it.
 *   TC_ACT_REDIRECT     hit with redirect_peer / redirect_neigh.
 *   TC_ACT_SHOT         anti-spoofing drop, or a rewrite helper failing half way.
 *
 * TCP SYN without ACK is punted: it starts a connection, the engine decides (a SYN reusing
 * the ports of a closed flow gets a new decision too). The SYN-ACK is not: it can only hit
 * an entry the engine wrote when it admitted that SYN, so it is the decision's own reply, and
 * forwarding it here saves every connection its second trip through the TUN (the sweep then
 * moves the engine's record to established, as a reverse packet does in the engine).
 * TCP FIN is not punted either: the FIN and the last ACKs keep the fast path, the entry's
 * tcp_flags accumulate FIN (one entry per direction), and the engine's periodic sweep reads
 * them to run its close timeout. RST is punted so the engine can delete both directions at
 * once.
 *
 * The ingress device is skb->ingress_ifindex (the same as skb->ifindex at tc ingress; it is
 * also the field BPF_PROG_TEST_RUN lets a test set without a real device).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/socket.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "flow_cache.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PODNET_FLOWS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct podnet_flow_key);
  __type(value, struct podnet_flow_value);
} PODNET_MAP_FLOWS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PODNET_PODS_MAX);
  __type(key, __u32);
  __type(value, struct podnet_pod_addrs);
} PODNET_MAP_PODS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PODNET_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} PODNET_MAP_STATS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, PODNET_PODS_MAX);
  __type(key, __u32);
  __type(value, struct podnet_spoof_counts);
} PODNET_MAP_SPOOF SEC(".maps");

/* What parsing learned; everything later steps need, read before any helper call
 * invalidates the packet pointers. */
struct parsed {
  struct podnet_flow_key key;
  __u32 l4off;      /* offset of the L4 header */
  __u32 hdr_len;    /* L3 + L4 header bytes, repeated in every GSO segment */
  __u16 ttl_word;   /* IPv4: the (ttl, protocol) 16-bit word, for the checksum fix */
  __u8 ttl;
  __u8 tcp_flags;
  __u8 icmp;        /* ICMP/ICMPv6 echo: the identifier sits at l4off + 4 */
  __u8 nd;          /* ICMPv6 neighbour discovery (router/neighbour solicit/advert, redirect) */
};

static __always_inline void count(__u32 stat)
{
  __u64 *c = bpf_map_lookup_elem(&PODNET_MAP_STATS, &stat);
  if (c)
    *c += 1;
}

/* A punt or miss: counted, unchanged, and handed on with TC_ACT_UNSPEC so whatever is
 * attached after this program still runs (see the verdicts in the header comment). */
static __always_inline int punt(__u32 stat)
{
  count(stat);
  return TC_ACT_UNSPEC;
}

/* Makes the first `len` bytes linear (a no-op unless the skb is paged). */
static __always_inline int have(struct __sk_buff *skb, __u32 len)
{
  if ((long)skb->data + len <= (long)skb->data_end)
    return 1;
  if (len > skb->len || bpf_skb_pull_data(skb, len))
    return 0;
  return (long)skb->data + len <= (long)skb->data_end;
}

/* The packet at `off` with its first `len` bytes linear and in bounds, or NULL. */
static __always_inline __u8 *bytes_at(struct __sk_buff *skb, __u32 off, __u32 len)
{
  if (!have(skb, off + len))
    return 0;
  __u8 *p = (__u8 *)(long)skb->data + off;
  if ((void *)(p + len) > (void *)(long)skb->data_end)
    return 0;
  return p;
}

#include "antispoof.bpf.h"
#include "fib.bpf.h"

/* ICMPv4 types carrying an inner header: unreachable, source quench, redirect, time
 * exceeded, parameter problem. */
static __always_inline int icmp4_error(__u8 type)
{
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* Parses L4 at p->l4off; returns a stat to punt with, or -1 to go on to the lookup. */
static __always_inline int parse_l4(struct __sk_buff *skb, struct parsed *p)
{
  __u8 proto = p->key.proto;
  /* a constant per family keeps the verifier's packet-range proof trivial */
  __u32 off = p->key.family == 4 ? ETH_LEN + IP4_LEN : ETH_LEN + IP6_LEN;
  if (proto == IPPROTO_TCP) {
    __u8 *l4 = bytes_at(skb, off, 20);
    if (!l4)
      return PODNET_STAT_PUNT_TRUNCATED;
    __u8 doff = l4[12] >> 4;
    if (doff < 5)
      return PODNET_STAT_PUNT_TRUNCATED;
    p->tcp_flags = l4[13];
    if (p->tcp_flags & TCP_RST)
      return PODNET_STAT_PUNT_TCP_RST;
    if ((p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
      return PODNET_STAT_PUNT_TCP_SYN;
    p->key.sport = *(__be16 *)l4;
    p->key.dport = *(__be16 *)(l4 + 2);
    p->hdr_len = off - ETH_LEN + doff * 4;
    return -1;
  }
  if (proto == IPPROTO_UDP) {
    __u8 *l4 = bytes_at(skb, off, 8);
    if (!l4)
      return PODNET_STAT_PUNT_TRUNCATED;
    p->key.sport = *(__be16 *)l4;
    p->key.dport = *(__be16 *)(l4 + 2);
    p->hdr_len = off - ETH_LEN + 8;
    return -1;
  }
  if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
    __u8 *l4 = bytes_at(skb, off, 8);
    if (!l4)
      return PODNET_STAT_PUNT_TRUNCATED;
    __u8 type = l4[0];
    int echo = proto == IPPROTO_ICMP ? (type == 0 || type == 8) : (type == 128 || type == 129);
    p->nd = proto == IPPROTO_ICMPV6 && type >= 133 && type <= 137;
    if (!echo) {
      int err = proto == IPPROTO_ICMP ? icmp4_error(type) : type < 128;
      return err ? PODNET_STAT_PUNT_ICMP_ERROR : PODNET_STAT_PUNT_ICMP_OTHER;
    }
    p->icmp = 1;
    p->key.sport = *(__be16 *)(l4 + 4);
    p->key.dport = p->key.sport;
    p->hdr_len = off - ETH_LEN + 8;
    return -1;
  }
  return PODNET_STAT_PUNT_L4;
}

/* Parses L3; returns a stat to punt with, or -1 to go on. */
static __always_inline int parse_l3(struct __sk_buff *skb, __u16 ethertype, struct parsed *p)
{
  if (ethertype == bpf_htons(ETH_P_IP)) {
    if (!have(skb, ETH_LEN + IP4_LEN))
      return PODNET_STAT_PUNT_TRUNCATED;
    struct iphdr *ip = (void *)(long)skb->data + ETH_LEN;
    if ((void *)(ip + 1) > (void *)(long)skb->data_end)
      return PODNET_STAT_PUNT_TRUNCATED;
    if (ip->version != 4 || ip->ihl < 5)
      return PODNET_STAT_PUNT_TRUNCATED;
    if (ip->ihl != 5)
      return PODNET_STAT_PUNT_IP_OPTIONS;
    if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
      return PODNET_STAT_PUNT_FRAGMENT;
    p->key.family = 4;
    p->key.proto = ip->protocol;
    p->ttl = ip->ttl;
    p->ttl_word = *(__u16 *)&ip->ttl;
    __builtin_memcpy(p->key.saddr, &ip->saddr, 4);
    __builtin_memcpy(p->key.daddr, &ip->daddr, 4);
    p->l4off = ETH_LEN + IP4_LEN;
    return -1;
  }
  if (!have(skb, ETH_LEN + IP6_LEN))
    return PODNET_STAT_PUNT_TRUNCATED;
  struct ipv6hdr *ip6 = (void *)(long)skb->data + ETH_LEN;
  if ((void *)(ip6 + 1) > (void *)(long)skb->data_end)
    return PODNET_STAT_PUNT_TRUNCATED;
  if (ip6->version != 6)
    return PODNET_STAT_PUNT_TRUNCATED;
  __u8 nh = ip6->nexthdr;
  if (nh != IPPROTO_TCP && nh != IPPROTO_UDP && nh != IPPROTO_ICMPV6)
    return PODNET_STAT_PUNT_IPV6_EXT;
  p->key.family = 6;
  p->key.proto = nh;
  p->ttl = ip6->hop_limit;
  __builtin_memcpy(p->key.saddr, &ip6->saddr, 16);
  __builtin_memcpy(p->key.daddr, &ip6->daddr, 16);
  p->l4off = ETH_LEN + IP6_LEN;
  return -1;
}

/* Offset of the L4 checksum field and the bpf_l4_csum_replace flags for it. */
static __always_inline __u32 l4_csum_off(const struct parsed *p)
{
  if (p->key.proto == IPPROTO_TCP)
    return p->l4off + 16;
  if (p->key.proto == IPPROTO_UDP)
    return p->l4off + 6;
  return p->l4off + 2;
}

static __always_inline __u64 l4_csum_flags(const struct parsed *p)
{
  /* A zero UDP checksum means "none" (IPv4) and must stay zero; a computed zero is sent
   * as 0xffff. */
  return p->key.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* Replaces one address (src or dst) at `off`, fixing the IPv4 header checksum and the L4
 * checksum's pseudo header (ICMPv4 has none). */
static __always_inline int rewrite_addr(struct __sk_buff *skb, const struct parsed *p, __u32 off, const __u8 *old,
                                        const __u8 *new)
{
  __u32 csum = l4_csum_off(p);
  __u64 fl = l4_csum_flags(p) | BPF_F_PSEUDO_HDR;
  if (p->key.family == 4) {
    __u32 o = *(const __u32 *)old, n = *(const __u32 *)new;
    if (p->key.proto != IPPROTO_ICMP && bpf_l4_csum_replace(skb, csum, o, n, fl | 4))
      return -1;
    if (bpf_l3_csum_replace(skb, ETH_LEN + 10, o, n, 4))
      return -1;
    return bpf_skb_store_bytes(skb, off, &n, 4, 0);
  }
  __s64 diff = bpf_csum_diff((__be32 *)old, 16, (__be32 *)new, 16, 0);
  if (bpf_l4_csum_replace(skb, csum, 0, diff, fl))
    return -1;
  return bpf_skb_store_bytes(skb, off, new, 16, 0);
}

static __always_inline int rewrite_port(struct __sk_buff *skb, const struct parsed *p, __u32 off, __be16 old,
                                        __be16 new)
{
  if (bpf_l4_csum_replace(skb, l4_csum_off(p), old, new, l4_csum_flags(p) | 2))
    return -1;
  return bpf_skb_store_bytes(skb, off, &new, 2, 0);
}

static __always_inline int decrement_ttl(struct __sk_buff *skb, const struct parsed *p)
{
  __u8 ttl = p->ttl - 1;
  if (p->key.family == 6)
    return bpf_skb_store_bytes(skb, ETH_LEN + 7, &ttl, 1, 0);
  __u16 old = p->ttl_word, new = old;
  *(__u8 *)&new = ttl; /* the TTL is the word's first byte in memory */
  if (bpf_l3_csum_replace(skb, ETH_LEN + 10, old, new, 2))
    return -1;
  return bpf_skb_store_bytes(skb, ETH_LEN + 8, &ttl, 1, 0);
}

static __always_inline int rewrite(struct __sk_buff *skb, const struct parsed *p, const struct podnet_flow_value *v)
{
  __u32 addr_off = ETH_LEN + (p->key.family == 4 ? 12 : 8);
  __u32 alen = p->key.family == 4 ? 4 : 16;
  if ((v->rewrite & PODNET_RW_SADDR) && rewrite_addr(skb, p, addr_off, p->key.saddr, v->new_saddr))
    return -1;
  if ((v->rewrite & PODNET_RW_DADDR) && rewrite_addr(skb, p, addr_off + alen, p->key.daddr, v->new_daddr))
    return -1;
  if (p->icmp) {
    if (v->rewrite & (PODNET_RW_SPORT | PODNET_RW_DPORT)) {
      __be16 id = (v->rewrite & PODNET_RW_SPORT) ? v->new_sport : v->new_dport;
      if (rewrite_port(skb, p, p->l4off + 4, p->key.sport, id))
        return -1;
    }
  } else {
    if ((v->rewrite & PODNET_RW_SPORT) && rewrite_port(skb, p, p->l4off, p->key.sport, v->new_sport))
      return -1;
    if ((v->rewrite & PODNET_RW_DPORT) && rewrite_port(skb, p, p->l4off + 2, p->key.dport, v->new_dport))
      return -1;
  }
  if (v->action != PODNET_ACT_PASS && decrement_ttl(skb, p))
    return -1;
  if ((v->rewrite & PODNET_RW_MACS) && bpf_skb_store_bytes(skb, 0, v->dst_mac, 12, 0))
    return -1;
  return 0;
}

/* Last-seen, flags and GSO-aware counters: a GSO skb counts as its segments, each with its
 * own copy of the L3+L4 headers. */
static __always_inline void account(struct __sk_buff *skb, const struct parsed *p, struct podnet_flow_value *v)
{
  __u32 l3len = skb->len - ETH_LEN;
  __u64 segs = 1;
  if (skb->gso_size) {
    segs = skb->gso_segs;
    if (!segs && l3len > p->hdr_len)
      segs = (l3len - p->hdr_len + skb->gso_size - 1) / skb->gso_size;
    if (!segs)
      segs = 1;
  }
  v->last_seen_ns = bpf_ktime_get_ns();
  if (p->tcp_flags && (v->tcp_flags & p->tcp_flags) != p->tcp_flags)
    __sync_fetch_and_or(&v->tcp_flags, (__u32)p->tcp_flags);
  __sync_fetch_and_add(&v->packets, segs);
  __sync_fetch_and_add(&v->bytes, l3len + (segs - 1) * p->hdr_len);
}

static __always_inline int over_mtu(struct __sk_buff *skb, const struct parsed *p, const struct podnet_flow_value *v)
{
  if (!v->mtu)
    return 0;
  if (skb->gso_size)
    return skb->gso_size + p->hdr_len > v->mtu;
  return skb->len - ETH_LEN > v->mtu;
}

SEC("tc")
int podnet_fastpath(struct __sk_buff *skb)
{
  struct parsed p;
  __builtin_memset(&p, 0, sizeof(p));
  p.key.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;

  if (!have(skb, ETH_LEN))
    return punt(PODNET_STAT_PUNT_TRUNCATED);
  struct ethhdr *eth = (void *)(long)skb->data;
  if ((void *)(eth + 1) > (void *)(long)skb->data_end)
    return punt(PODNET_STAT_PUNT_TRUNCATED);
  __u16 ethertype = eth->h_proto;

  /* 1. anti-spoofing */
  const struct podnet_pod_addrs *pod = bpf_map_lookup_elem(&PODNET_MAP_PODS, &p.key.ifindex);
  if (pod && antispoof(skb, pod, p.key.ifindex, ethertype))
    return TC_ACT_SHOT;
  /* a tag the receive path moved out of the frame (only a pod's is a lie): the cache is
   * keyed without it, so the engine decides */
  if (skb->vlan_present)
    return punt(PODNET_STAT_PUNT_NOT_IP);
  if (ethertype != bpf_htons(ETH_P_IP) && ethertype != bpf_htons(ETH_P_IPV6)) {
    if (pod && ethertype == bpf_htons(ETH_P_ARP))
      count(PODNET_STAT_SPOOF_ALLOWED_ND);
    return punt(PODNET_STAT_PUNT_NOT_IP);
  }

  /* 2. parse and punt what the engine must see */
  int why = parse_l3(skb, ethertype, &p);
  if (why < 0)
    why = parse_l4(skb, &p);
  if (pod && p.nd)
    count(PODNET_STAT_SPOOF_ALLOWED_ND);
  if (why < 0 && p.ttl <= 1)
    why = PODNET_STAT_PUNT_TTL;
  if (why >= 0)
    return punt(why);

  /* 3. lookup */
  struct podnet_flow_value *v = bpf_map_lookup_elem(&PODNET_MAP_FLOWS, &p.key);
  if (!v)
    return punt(PODNET_STAT_MISS);

  /* 4. hit */
  if (over_mtu(skb, &p, v))
    return punt(PODNET_STAT_PUNT_MTU);
  struct bpf_fib_lookup fib;
  if (v->action == PODNET_ACT_REDIRECT_FIB) {
    why = fib_route(skb, &p, v, &fib);
    if (why >= 0)
      return punt(why);
  }
  if (rewrite(skb, &p, v))
    return TC_ACT_SHOT; /* a helper failed half way: never forward a half-rewritten packet */
  account(skb, &p, v);

  if (v->action == PODNET_ACT_REDIRECT_PEER) {
    count(PODNET_STAT_HIT_PEER);
    /* A pod's frame to its gateway carries the bridge's MAC, not the host veth's, so the
     * veth marked it PACKET_OTHERHOST, and the target pod's IP stack drops such packets.
     * Kernels from 6.15 scrub the skb on redirect_peer and reset it themselves; before
     * that it is ours to do. Cannot fail for the types a veth sets. */
    bpf_skb_change_type(skb, PACKET_HOST);
    return bpf_redirect_peer(v->target_ifindex, 0);
  }
  if (v->action == PODNET_ACT_REDIRECT_NEIGH) {
    count(PODNET_STAT_HIT_NEIGH);
    if (!v->nh_family)
      return bpf_redirect_neigh(v->target_ifindex, 0, 0, 0);
    struct bpf_redir_neigh nh = {};
    nh.nh_family = v->nh_family == 4 ? AF_INET : AF_INET6;
    __builtin_memcpy(nh.ipv6_nh, v->nexthop, 16);
    return bpf_redirect_neigh(v->target_ifindex, &nh, sizeof(nh), 0);
  }
  if (v->action == PODNET_ACT_REDIRECT_FIB) {
    count(PODNET_STAT_HIT_FIB);
    return fib_redirect(&fib);
  }
  count(PODNET_STAT_HIT_PASS);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
