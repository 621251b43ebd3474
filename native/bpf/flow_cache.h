/* Kernel flow cache: the maps shared by the tc program (flow_cache.bpf.c) and the engine.
 *
 * Where it sits: the engine decides a flow on its first packet (policy, Maglev, NAT) and
 * writes the decision here, one entry per direction. The tc program on each pod's host veth
 * (and on each uplink, for flows from off-node) checks a pod's source addresses, looks the
 * packet up and, on a hit, rewrites and redirects it; a miss or punt leaves it unchanged with TC_ACT_UNSPEC
 * (a later tc filter or tcx program still runs) and it continues into today's path (policy
 * routing -> TUN -> engine).
 *
 * Plain C with fixed-width types so both sides compile it: clang -target bpf and the C++
 * engine. Every struct has explicit padding and a checked size; keys must be zeroed before
 * filling because the kernel hashes them as bytes.
 *
 * Byte order: addresses and ports are in network order exactly as in the packet. IPv4
 * addresses occupy the first 4 bytes of a 16-byte field, the other 12 stay zero (the
 * engine's own flow keys use the same form). ICMP echo request/reply carry the echo
 * identifier in both port fields.
 *
 * Maps (names carry the layout version, so a pinned map of an older layout is never
 * reused by a newer loader; names stay within the kernel's 15 characters):
 *
 *   podnet_flows_vN  HASH, key podnet_flow_key, value podnet_flow_value,
 *                    bound PODNET_FLOWS_MAX (no prealloc; the loader may resize).
 *                    Engine inserts/deletes entries and owns the decision fields;
 *                    the program only updates the stats tail (last_seen, tcp_flags,
 *                    packets, bytes) in place. It never inserts.
 *   podnet_pods_vN   HASH, key __u32 host-veth ifindex, value podnet_pod_addrs,
 *                    bound PODNET_PODS_MAX. Engine (or the CNI path) writes one entry per
 *                    pod; an ifindex without an entry (uplink) skips anti-spoofing.
 *   podnet_stats_vN  PERCPU_ARRAY, key __u32 enum podnet_stat, value __u64,
 *                    bound PODNET_STAT_MAX. Program increments; engine sums the CPUs.
 *   podnet_spoof_vN  PERCPU_HASH, key __u32 host-veth ifindex, value podnet_spoof_counts,
 *                    bound PODNET_PODS_MAX. Program increments (and creates the entry on
 *                    the first drop if the engine has not); engine reads and deletes it
 *                    with the pod.
 */
#ifndef PODNET_FLOW_CACHE_H
#define PODNET_FLOW_CACHE_H

#include <linux/types.h>

#ifdef __cplusplus
#define PODNET_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define PODNET_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#define PODNET_FC_VERSION 2

#define PODNET_FC_CAT_(a, b) a##_v##b
#define PODNET_FC_CAT(a, b) PODNET_FC_CAT_(a, b)
#define PODNET_FC_STR_(x) #x
#define PODNET_FC_STR(x) PODNET_FC_STR_(x)

/* Map identifiers in the BPF object (libbpf names a map after its variable) and the same
 * names as strings for the loader's bpf_object__find_map_by_name and pin paths. */
#define PODNET_MAP_FLOWS PODNET_FC_CAT(podnet_flows, PODNET_FC_VERSION)
#define PODNET_MAP_PODS PODNET_FC_CAT(podnet_pods, PODNET_FC_VERSION)
#define PODNET_MAP_STATS PODNET_FC_CAT(podnet_stats, PODNET_FC_VERSION)
#define PODNET_MAP_SPOOF PODNET_FC_CAT(podnet_spoof, PODNET_FC_VERSION)
#define PODNET_MAP_FLOWS_NAME PODNET_FC_STR(PODNET_MAP_FLOWS)
#define PODNET_MAP_PODS_NAME PODNET_FC_STR(PODNET_MAP_PODS)
#define PODNET_MAP_STATS_NAME PODNET_FC_STR(PODNET_MAP_STATS)
#define PODNET_MAP_SPOOF_NAME PODNET_FC_STR(PODNET_MAP_SPOOF)
/* The program's function name, which is also its kernel name (15 characters at most). */
#define PODNET_PROG_NAME "podnet_fastpath"

#define PODNET_FLOWS_MAX 262144
#define PODNET_PODS_MAX 4096

/* ---- podnet_flows: one direction of an admitted flow ---------------------------------- */

struct podnet_flow_key {
  __u8 saddr[16];
  __u8 daddr[16];
  __be16 sport;     /* TCP/UDP port, or the ICMP echo identifier */
  __be16 dport;     /* TCP/UDP port, or the ICMP echo identifier */
  __u32 ifindex;    /* the ingress device the program runs on (pod host veth or uplink) */
  __u8 proto;       /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
  __u8 family;      /* 4 or 6 */
  __u8 pad[2];      /* zero */
};
PODNET_STATIC_ASSERT(sizeof(struct podnet_flow_key) == 44, "podnet_flow_key layout");

/* Which header fields the hit rewrites (bits of podnet_flow_value.rewrite). */
enum podnet_rewrite {
  PODNET_RW_SADDR = 1 << 0,
  PODNET_RW_DADDR = 1 << 1,
  PODNET_RW_SPORT = 1 << 2, /* for ICMP echo: the identifier, from new_sport */
  PODNET_RW_DPORT = 1 << 3,
  PODNET_RW_MACS = 1 << 4,  /* write dst_mac/src_mac into the Ethernet header */
};

/* What the program does with a hit after rewriting. */
enum podnet_action {
  /* Return TC_ACT_OK: the kernel routes the rewritten packet (and decrements TTL itself);
   * no later tc filter or tcx program sees it. */
  PODNET_ACT_PASS = 0,
  /* bpf_redirect_peer(target_ifindex): target is a local pod's host veth, the packet
   * enters the pod's eth0 directly, as PACKET_HOST whatever MAC it came addressed to.
   * TTL/hop limit is decremented here; set RW_MACS so the frame carries the pod's MAC as
   * destination and the gateway's as source. */
  PODNET_ACT_REDIRECT_PEER = 1,
  /* bpf_redirect_neigh(target_ifindex, next hop): off-node delivery; the kernel's
   * neighbour table fills in the MACs. nh_family 0 lets the kernel look the route up
   * from the packet's destination. TTL/hop limit is decremented here. */
  PODNET_ACT_REDIRECT_NEIGH = 2,
  /* Off-node delivery decided per packet by the kernel's FIB (bpf_fib_lookup from the
   * ingress device, with the translated addresses): redirect out of the device and next hop
   * the lookup names (MACs from its neighbour entry, or bpf_redirect_neigh when it has none
   * yet). A lookup that does not succeed (no route, a local destination, forwarding off,
   * the ingress device itself, larger than the egress MTU) punts the packet unchanged, so a
   * route or neighbour change needs no entry invalidated. target_ifindex and nexthop are
   * unused (0). TTL/hop limit is decremented here. */
  PODNET_ACT_REDIRECT_FIB = 3,
};

/* Flags of an entry (podnet_flow_value.flags; 0 in entries of engines that predate them). */
enum podnet_flow_flags {
  /* PODNET_ACT_REDIRECT_FIB may send the packet back out of the device it entered by: a flow
   * passing through the node (a NodePort whose endpoint is on another node, reached over the
   * same uplink). Without it such a lookup is punted. The TTL is decremented either way. */
  PODNET_FLOW_HAIRPIN = 1 << 0,
};

struct podnet_flow_value {
  /* Decision: written by the engine, read-only for the program. */
  __u8 new_saddr[16];
  __u8 new_daddr[16];
  __u8 nexthop[16];       /* redirect_neigh next hop (IPv4 in the first 4 bytes) */
  __be16 new_sport;
  __be16 new_dport;
  __u32 target_ifindex;   /* redirect target */
  __u8 rewrite;           /* enum podnet_rewrite bits */
  __u8 action;            /* enum podnet_action */
  __u8 nh_family;         /* 4, 6, or 0 = kernel FIB lookup */
  __u8 flags;             /* enum podnet_flow_flags */
  __u16 mtu;              /* egress L3 MTU; a larger non-GSO packet is punted. 0 = no check */
  __u8 dst_mac[6];        /* with RW_MACS: Ethernet destination, then source, adjacent */
  __u8 src_mac[6];
  __u8 pad1[6];
  __u64 flow_id;          /* the engine's own flow id, for the sweep */
  /* Stats: updated by the program in place, swept back by the engine. */
  __u64 last_seen_ns;     /* bpf_ktime_get_ns() of the latest hit */
  __u64 packets;          /* segments: a GSO packet counts gso_segs */
  __u64 bytes;            /* L3 bytes as the segments would carry them on the wire */
  __u32 tcp_flags;        /* OR of the TCP flags of every hit (FIN shows a close) */
  __u32 pad2;
};
PODNET_STATIC_ASSERT(sizeof(struct podnet_flow_value) == 120, "podnet_flow_value layout");

/* ---- podnet_pods: anti-spoofing facts about the pod behind a host veth ----------------- */

#define PODNET_POD_MAX_V4 2
#define PODNET_POD_MAX_V6 2

struct podnet_pod_addrs {
  __u8 mac[6];        /* the pod's eth0 MAC: every frame's Ethernet source */
  __u8 n_v4;          /* used entries of v4 */
  __u8 n_v6;          /* used entries of v6 */
  __u8 v4[PODNET_POD_MAX_V4][4];
  __u8 v6[PODNET_POD_MAX_V6][16];
};
PODNET_STATIC_ASSERT(sizeof(struct podnet_pod_addrs) == 48, "podnet_pod_addrs layout");

/* ---- podnet_spoof: drops per pod by reason --------------------------------------------- */

/* The u32 filters' names in brackets where they differ (src/node/antispoof.ts SpoofReason). */
enum podnet_spoof_reason {
  PODNET_SPOOF_SRC_MAC = 0,          /* Ethernet source is not the pod's MAC [mac-source] */
  PODNET_SPOOF_SRC_IPV4 = 1,         /* IPv4 source is not one of the pod's [ipv4-source] */
  PODNET_SPOOF_SRC_IPV6 = 2,         /* IPv6 source is not the pod's, link-local, or :: for
                                        ICMPv6 [ipv6-source] */
  PODNET_SPOOF_ARP_SENDER = 3,       /* ARP sender MAC not the pod's, or sender IP neither
                                        the pod's IPv4 nor 0.0.0.0 */
  PODNET_SPOOF_IPV6_NA_TARGET = 4,   /* neighbour advertisement for an address not the pod's */
  PODNET_SPOOF_IPV6_EXT_HEADER = 5,  /* Hop-by-Hop / Routing / Destination Options /
                                        Mobility first, other than an MLD report */
  PODNET_SPOOF_VLAN_TAGGED = 6,      /* 802.1Q or 802.1ad tagged frame */
  PODNET_SPOOF_MAX = 7,
};

struct podnet_spoof_counts {
  __u64 drops[PODNET_SPOOF_MAX];
};
PODNET_STATIC_ASSERT(sizeof(struct podnet_spoof_counts) == 8 * PODNET_SPOOF_MAX, "podnet_spoof_counts");

/* ---- podnet_stats: per-CPU counters, index = enum podnet_stat -------------------------- */

enum podnet_stat {
  PODNET_STAT_HIT_PASS = 0,       /* hit, rewritten, returned to the kernel's routing */
  PODNET_STAT_HIT_PEER = 1,       /* hit, redirect_peer */
  PODNET_STAT_HIT_NEIGH = 2,      /* hit, redirect_neigh */
  PODNET_STAT_MISS = 3,           /* cacheable packet without an entry */
  PODNET_STAT_PUNT_NOT_IP = 4,    /* ARP and other non-IP frames (after anti-spoofing), and
                                     frames whose VLAN tag the receive path took out */
  PODNET_STAT_PUNT_TRUNCATED = 5, /* header cut short, or malformed (IP version, ihl < 5, doff < 5) */
  PODNET_STAT_PUNT_FRAGMENT = 6,  /* IPv4 MF or fragment offset */
  PODNET_STAT_PUNT_IP_OPTIONS = 7,/* IPv4 ihl != 5 */
  PODNET_STAT_PUNT_IPV6_EXT = 8,  /* IPv6 next header not TCP/UDP/ICMPv6 */
  PODNET_STAT_PUNT_TTL = 9,       /* TTL / hop limit <= 1: the slow path sends time-exceeded */
  PODNET_STAT_PUNT_TCP_SYN = 10,  /* SYN without ACK, a connection's start: the engine decides */
  PODNET_STAT_PUNT_TCP_RST = 11,  /* teardown: the engine deletes the flow at once */
  PODNET_STAT_PUNT_ICMP_ERROR = 12, /* errors carry an inner header the engine translates */
  PODNET_STAT_PUNT_ICMP_OTHER = 13, /* ICMP that is neither echo nor an error (ND, ...) */
  PODNET_STAT_PUNT_MTU = 14,      /* larger than the entry's egress MTU */
  PODNET_STAT_PUNT_L4 = 15,       /* other L4 protocols */
  PODNET_STAT_SPOOF_DROP = 16,    /* all anti-spoofing drops (per pod: podnet_spoof) */
  PODNET_STAT_SPOOF_ALLOWED_ND = 17, /* a pod's ARP or ND that passed anti-spoofing */
  PODNET_STAT_HIT_FIB = 18,       /* hit, delivered off-node where the FIB lookup said */
  PODNET_STAT_PUNT_FIB = 19,      /* hit whose FIB lookup did not succeed (no route, local
                                     destination, back out of the ingress device, ...) */
  PODNET_STAT_MAX = 20,
};

/* Names in enum order, for loaders and tools. */
#define PODNET_STAT_NAMES                                                                  \
  "hit_pass", "hit_peer", "hit_neigh", "miss", "punt_not_ip", "punt_truncated",            \
      "punt_fragment", "punt_ip_options", "punt_ipv6_ext", "punt_ttl", "punt_tcp_syn",     \
      "punt_tcp_rst", "punt_icmp_error", "punt_icmp_other", "punt_mtu", "punt_l4",         \
      "spoof_drop", "spoof_allowed_arp_nd", "hit_fib", "punt_fib"
#define PODNET_SPOOF_NAMES                                                                 \
  "src_mac", "src_ipv4", "src_ipv6", "arp_sender", "ipv6_na_target", "ipv6_ext_header", "vlan_tagged"

#endif /* PODNET_FLOW_CACHE_H */
