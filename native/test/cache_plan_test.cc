// Which admitted flows the kernel flow cache takes (new_flow.cc plan_cache) and with which map
// entries (kernel_cache.cc cache_entries): a flow is cached when both its ends are pods of this
// node after translation (service DNAT, hairpin, a plain pod-to-pod flow, which then gets a
// record of its own), or when one end is a pod here and the other is off-node while the engine
// knows an uplink: a service flow (NodePort, LB IP, externalIP, masqueraded or not) or another
// node's pod towards a pod here gets forward entries at every uplink (redirect_peer into the
// pod) and the reverse at the pod's veth (delivered by the FIB within the smallest uplink
// MTU); a pod's flow leaving (egress masquerade, a remote Service backend, another node's
// pod) the other way round. Never when neither end is a pod here, without a known uplink for
// the off-node ones, or when the fast path is off (no pod table).
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>

#include "../addr_text.h"
#include "../engine.h"
#include "../kernel_cache.h"
#include "../new_flow.h"
#include "addr.h"
#include "engine_config.h"

using namespace podnet;
using podnet::test::ip;

namespace {

class CachePlan : public testing::Test {
 protected:
  CachePlan()
      : engine_(config()), flows_(4096, Timeouts{}), svc_(new Counter[16]), be_(new Counter[64]), pol_(new PolicyCounter[16]) {
    ServicePortSpec s;
    s.key = SvcKey{ip("10.96.0.10"), 80, 4, kTCP};
    s.name = "web";
    s.backends.push_back(BackendSpec{ip("10.244.1.3"), 8080, false, "web"});
    // NodePorts on the node address: eTP Local (client kept), eTP Cluster (masqueraded), UDP, IPv6.
    ServicePortSpec local = s, cluster = s, dns = s, local6 = s;
    local.key = SvcKey{ip("192.168.50.2"), 30081, 4, kTCP};
    cluster.key = SvcKey{ip("192.168.50.2"), 30085, 4, kTCP};
    cluster.masquerade = true;
    cluster.masquerade_addr = ip("192.168.50.2");
    dns.key = SvcKey{ip("192.168.50.2"), 30053, 4, kUDP};
    dns.backends[0].port = 5353;
    local6.key = SvcKey{ip("fd00:50::2"), 30081, 6, kTCP};
    local6.backends[0].addr = ip("fd00:10:244:1::3");
    engine_.apply({s, local, cluster, dns, local6}, {}, true);
    LocalPod a{3, {2, 0, 0, 0, 0, 3}, {2, 0, 0, 0, 0, 1}}, b{4, {2, 0, 0, 0, 0, 4}, {2, 0, 0, 0, 0, 1}};
    pods_.put(4, ip("10.244.1.2"), a);
    pods_.put(4, ip("10.244.1.3"), b);
    pods_.put(6, ip("fd00:10:244:1::3"), b);
  }
  static EngineConfig config() { return podnet::test::small_engine_config({{"10.96.0.0", 12}, {"10.244.0.0", 16}}); }

  FlowPlan plan(const char* src, const char* dst, uint16_t dport, bool with_pods = true, uint8_t proto = kTCP) {
    auto t = engine_.table();
    auto pol = engine_.policy();
    PipelineEnv env{&flows_, engine_.config().hairpin4, engine_.config().hairpin6, &counters_, svc_.get(), 16, be_.get(), 64,
                    pol_.get(), 16};
    uint8_t family = std::strchr(src, ':') ? 6 : 4;
    size_t len = build_first_packet(family, ip(src), ip(dst), proto, 40000, dport, pkt_);
    Parsed p;
    EXPECT_TRUE(parse_packet(pkt_, len, p, nullptr));
    return plan_new_flow(env, Tables{*t, *pol, with_pods ? &pods_ : nullptr, &engine_.config().masq}, p, monotonic_ms());
  }

  Engine engine_;
  FlowTable flows_;
  EngineCounters counters_;
  std::unique_ptr<Counter[]> svc_, be_;
  std::unique_ptr<PolicyCounter[]> pol_;
  PodTable pods_;
  uint8_t pkt_[128];
};

}  // namespace

TEST_F(CachePlan, ServiceFlowBetweenLocalPods) {
  FlowPlan p = plan("10.244.1.2", "10.96.0.10", 80);
  ASSERT_EQ(int(p.action), int(PlanAction::kAdmit));
  ASSERT_TRUE(p.cache.ok());
  EXPECT_EQ(p.cache.client->ifindex, 3u);
  EXPECT_EQ(p.cache.server->ifindex, 4u);
}

TEST_F(CachePlan, HairpinIsCachedBackToTheSamePod) {
  FlowPlan p = plan("10.244.1.3", "10.96.0.10", 80);
  ASSERT_TRUE(p.cache.ok());
  EXPECT_TRUE(p.flow.fwd_x.rewrite & kRewriteSrc) << "hairpin source";
  EXPECT_EQ(p.cache.client->ifindex, 4u);
  EXPECT_EQ(p.cache.server->ifindex, 4u);
}

TEST_F(CachePlan, PodToPodGetsARecordToCache) {
  FlowPlan p = plan("10.244.1.2", "10.244.1.3", 8080);
  ASSERT_EQ(int(p.action), int(PlanAction::kAdmit));
  EXPECT_EQ(int(p.kind), int(FlowKind::kTracked));
  EXPECT_TRUE(p.insert);
  EXPECT_TRUE(p.cache.ok());
  FlowPlan u = plan("10.244.1.2", "10.244.1.3", 5353, true, kUDP);
  EXPECT_TRUE(u.cache.ok()) << "UDP too";
}

TEST_F(CachePlan, RemoteEndsWithoutUplinksStayOnTheTunPath) {
  EXPECT_FALSE(plan("10.1.0.7", "10.96.0.10", 80).cache.ok()) << "client off node, no uplink known";
  EXPECT_FALSE(plan("10.244.1.2", "10.244.9.9", 80).cache.ok()) << "server off node, no uplink known";
  FlowPlan m = plan("10.244.1.2", "198.51.100.7", 443);
  EXPECT_EQ(int(m.kind), int(FlowKind::kMasquerade));
  EXPECT_FALSE(m.cache.ok()) << "egress masquerade";
}

TEST_F(CachePlan, FastPathOffChangesNothing) {
  FlowPlan p = plan("10.244.1.2", "10.244.1.3", 8080, false);
  EXPECT_EQ(int(p.action), int(PlanAction::kPass)) << "pod to pod without policy passes, no record";
  EXPECT_FALSE(p.cache.ok());
  EXPECT_FALSE(plan("10.244.1.2", "10.96.0.10", 80, false).cache.ok());
}

namespace {

// The uplinks the fast path knows: two, MTUs 1500 and 1400.
void two_uplinks(PodTable& pods) { pods.set_uplinks({Uplink{11, 1500}, Uplink{12, 1400}}); }

// A TCP service port `vip`:`port` with one backend `backend`:8080.
ServicePortSpec one_backend(const char* vip, uint16_t port, const char* backend, const char* name) {
  ServicePortSpec s;
  s.key = SvcKey{ip(vip), port, 4, kTCP};
  s.name = name;
  s.backends.push_back(BackendSpec{ip(backend), 8080, false, name});
  return s;
}

// The cluster's addresses: every node's pod CIDR (10.244.0.0/16 here) and the nodes' InternalIPs.
void cluster_peers(PodTable& pods) {
  std::vector<IpRange> v4, v6;
  ASSERT_EQ(cidr_list({"10.244.0.0/16", "192.168.50.0/24", "fd00:10:244::/48"}, v4, v6), -1);
  pods.set_peers(std::move(v4), std::move(v6));
}

// An engine record's view for cache_entries: index 5, generation 9, forward.
FlowHit hit_of(const FlowPlan& p) {
  FlowHit h{};
  h.idx = 5;
  h.gen = 9;
  h.dir = kForward;
  h.x = p.flow.fwd_x;
  return h;
}

bool same16(const uint8_t* a, const char* text) {
  Addr x = ip(text);
  return std::memcmp(a, x.b, 16) == 0;
}

}  // namespace

TEST_F(CachePlan, OffNodeClientWithoutUplinksStaysOnTheTunPath) {
  EXPECT_FALSE(plan("203.0.113.10", "192.168.50.2", 30081).cache.ok()) << "no uplink known";
}

TEST_F(CachePlan, NodePortFromOutsideKeepingTheClient) {
  two_uplinks(pods_);
  FlowPlan p = plan("203.0.113.10", "192.168.50.2", 30081);
  ASSERT_EQ(int(p.action), int(PlanAction::kAdmit));
  ASSERT_TRUE(p.cache.ok());
  ASSERT_TRUE(p.cache.from_outside());
  EXPECT_EQ(p.cache.server->ifindex, 4u);
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 3u) << "one forward entry per uplink, one reverse";
  for (size_t i = 0; i < 2; i++) {
    const fastpath::FlowEntry& f = e[i];
    EXPECT_EQ(f.key.ifindex, i == 0 ? 11u : 12u) << "forward keyed at the uplink";
    EXPECT_TRUE(same16(f.key.saddr, "203.0.113.10"));
    EXPECT_TRUE(same16(f.key.daddr, "192.168.50.2"));
    EXPECT_EQ(ntohs(f.key.dport), 30081);
    EXPECT_EQ(f.value.action, PODNET_ACT_REDIRECT_PEER);
    EXPECT_EQ(f.value.target_ifindex, 4u) << "into the backend pod";
    EXPECT_EQ(f.value.rewrite, PODNET_RW_DADDR | PODNET_RW_DPORT | PODNET_RW_MACS) << "DNAT only: the client is kept";
    EXPECT_TRUE(same16(f.value.new_daddr, "10.244.1.3"));
    EXPECT_EQ(ntohs(f.value.new_dport), 8080);
    EXPECT_EQ(f.value.dst_mac[5], 4) << "the pod's MAC";
    EXPECT_EQ(f.value.src_mac[5], 1) << "from its gateway";
    EXPECT_EQ(f.value.flow_id, cache_flow_id(5, 9, kForward)) << "all forward entries are the record's forward direction";
  }
  const fastpath::FlowEntry& r = e[2];
  EXPECT_EQ(r.key.ifindex, 4u) << "reverse keyed at the pod's veth";
  EXPECT_TRUE(same16(r.key.saddr, "10.244.1.3"));
  EXPECT_TRUE(same16(r.key.daddr, "203.0.113.10"));
  EXPECT_EQ(ntohs(r.key.sport), 8080);
  EXPECT_EQ(ntohs(r.key.dport), 40000);
  EXPECT_EQ(r.value.action, PODNET_ACT_REDIRECT_FIB);
  EXPECT_EQ(r.value.target_ifindex, 0u) << "egress from the FIB, per packet";
  EXPECT_EQ(r.value.rewrite, PODNET_RW_SADDR | PODNET_RW_SPORT) << "source back to the NodePort, no MACs";
  EXPECT_TRUE(same16(r.value.new_saddr, "192.168.50.2"));
  EXPECT_EQ(ntohs(r.value.new_sport), 30081);
  EXPECT_EQ(r.value.mtu, 1400) << "the smallest uplink MTU";
  EXPECT_EQ(r.value.flow_id, cache_flow_id(5, 9, kReverse));
}

TEST_F(CachePlan, NodePortFromOutsideMasqueraded) {
  two_uplinks(pods_);
  FlowPlan p = plan("203.0.113.10", "192.168.50.2", 30085);
  ASSERT_TRUE(p.cache.from_outside());
  ASSERT_TRUE(p.flow.fwd_x.rewrite & kRewriteSrc) << "eTP Cluster: SNAT to the node";
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 3u);
  EXPECT_EQ(e[0].value.rewrite, PODNET_RW_SADDR | PODNET_RW_SPORT | PODNET_RW_DADDR | PODNET_RW_DPORT | PODNET_RW_MACS);
  EXPECT_TRUE(same16(e[0].value.new_saddr, "192.168.50.2"));
  const fastpath::FlowEntry& r = e[2];
  EXPECT_TRUE(same16(r.key.daddr, "192.168.50.2")) << "the pod answers the node address";
  EXPECT_EQ(ntohs(r.key.dport), ntohs(e[0].value.new_sport)) << "at the masquerade port";
  EXPECT_EQ(r.value.rewrite, PODNET_RW_SADDR | PODNET_RW_SPORT | PODNET_RW_DADDR | PODNET_RW_DPORT);
  EXPECT_TRUE(same16(r.value.new_daddr, "203.0.113.10")) << "back to the client";
  EXPECT_EQ(ntohs(r.value.new_dport), 40000);
  EXPECT_EQ(r.value.action, PODNET_ACT_REDIRECT_FIB);
}

TEST_F(CachePlan, NodePortFromOutsideUdpAndIpv6) {
  two_uplinks(pods_);
  FlowPlan u = plan("203.0.113.10", "192.168.50.2", 30053, true, kUDP);
  ASSERT_TRUE(u.cache.from_outside()) << "UDP";
  CacheEntries e;
  ASSERT_EQ(cache_entries(u, hit_of(u), e), 3u);
  EXPECT_EQ(e[0].key.proto, kUDP);
  EXPECT_EQ(ntohs(e[0].value.new_dport), 5353);
  FlowPlan v6 = plan("fd00:99::10", "fd00:50::2", 30081);
  ASSERT_TRUE(v6.cache.from_outside()) << "IPv6";
  ASSERT_EQ(cache_entries(v6, hit_of(v6), e), 3u);
  EXPECT_EQ(e[0].key.family, 6);
  EXPECT_TRUE(same16(e[0].value.new_daddr, "fd00:10:244:1::3"));
  EXPECT_EQ(e[2].value.action, PODNET_ACT_REDIRECT_FIB);
  EXPECT_TRUE(same16(e[2].value.new_saddr, "fd00:50::2"));
}

TEST_F(CachePlan, AnotherNodesPodToAPodHereGetsARecordToCache) {
  FlowPlan none = plan("10.244.2.7", "10.244.1.3", 8080);
  EXPECT_EQ(int(none.action), int(PlanAction::kPass)) << "no uplink known: no record, the TUN path";
  two_uplinks(pods_);
  EXPECT_EQ(int(plan("10.244.2.7", "10.244.1.3", 8080).action), int(PlanAction::kPass)) << "not known as the cluster's";
  cluster_peers(pods_);
  FlowPlan p = plan("10.244.2.7", "10.244.1.3", 8080);
  ASSERT_EQ(int(p.action), int(PlanAction::kAdmit));
  EXPECT_EQ(int(p.kind), int(FlowKind::kTracked));
  EXPECT_TRUE(p.insert) << "a record of its own, for the cache to follow";
  ASSERT_TRUE(p.cache.from_outside());
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 3u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(e[i].key.ifindex, i == 0 ? 11u : 12u) << "entering at the uplinks";
    EXPECT_TRUE(same16(e[i].key.saddr, "10.244.2.7"));
    EXPECT_EQ(e[i].value.rewrite, PODNET_RW_MACS) << "untranslated, addressed from the gateway";
    EXPECT_EQ(e[i].value.action, PODNET_ACT_REDIRECT_PEER);
    EXPECT_EQ(e[i].value.target_ifindex, 4u);
  }
  EXPECT_EQ(e[2].key.ifindex, 4u) << "the reply at the pod's veth";
  EXPECT_EQ(e[2].value.rewrite, 0u);
  EXPECT_EQ(e[2].value.action, PODNET_ACT_REDIRECT_FIB);
  FlowPlan u = plan("10.244.2.7", "10.244.1.3", 5353, true, kUDP);
  EXPECT_TRUE(u.cache.from_outside()) << "UDP too";
}

TEST_F(CachePlan, APodHereToAnotherNodesPod) {
  two_uplinks(pods_);
  cluster_peers(pods_);
  for (const char* dst : {"10.244.9.9"}) {
    FlowPlan p = plan("10.244.1.2", dst, 80);
    ASSERT_EQ(int(p.kind), int(FlowKind::kTracked)) << dst;
    EXPECT_TRUE(p.insert);
    ASSERT_TRUE(p.cache.to_outside()) << dst;
    CacheEntries e;
    ASSERT_EQ(cache_entries(p, hit_of(p), e), 3u);
    EXPECT_EQ(e[0].key.ifindex, 11u) << "replies keyed at the uplinks";
    EXPECT_TRUE(same16(e[0].key.saddr, dst));
    EXPECT_EQ(e[0].value.target_ifindex, 3u) << "into the client pod";
    EXPECT_EQ(e[2].key.ifindex, 3u) << "forward at the client's veth";
    EXPECT_EQ(e[2].value.rewrite, 0u);
    EXPECT_EQ(e[2].value.action, PODNET_ACT_REDIRECT_FIB);
  }
}

TEST_F(CachePlan, APodHereToAServiceBackendOnAnotherNode) {
  ServicePortSpec s = one_backend("10.96.0.11", 80, "10.244.2.7", "remote");
  engine_.apply({s}, {}, false);
  EXPECT_FALSE(plan("10.244.1.2", "10.96.0.11", 80).cache.ok()) << "no uplink known";
  two_uplinks(pods_);
  cluster_peers(pods_);
  FlowPlan p = plan("10.244.1.2", "10.96.0.11", 80);
  ASSERT_EQ(int(p.kind), int(FlowKind::kService));
  ASSERT_TRUE(p.cache.to_outside());
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 3u);
  EXPECT_TRUE(same16(e[0].key.saddr, "10.244.2.7")) << "the backend's reply at the uplinks";
  EXPECT_EQ(ntohs(e[0].key.sport), 8080);
  EXPECT_EQ(e[0].value.rewrite, PODNET_RW_SADDR | PODNET_RW_SPORT | PODNET_RW_MACS) << "source back to the VIP";
  EXPECT_TRUE(same16(e[0].value.new_saddr, "10.96.0.11"));
  EXPECT_EQ(ntohs(e[0].value.new_sport), 80);
  EXPECT_EQ(e[0].value.target_ifindex, 3u);
  EXPECT_EQ(e[2].value.rewrite, PODNET_RW_DADDR | PODNET_RW_DPORT) << "DNAT to the backend";
  EXPECT_TRUE(same16(e[2].value.new_daddr, "10.244.2.7"));
  EXPECT_EQ(e[2].value.action, PODNET_ACT_REDIRECT_FIB);
}

TEST_F(CachePlan, UntranslatedFlowsOutsideTheClusterStayOnTheTunPath) {
  // Where the node may NAT a pod's traffic itself (a MASQUERADE rule of its own), which the
  // cache would bypass: only the engine's own translations and the cluster's addresses.
  two_uplinks(pods_);
  cluster_peers(pods_);
  ServicePortSpec s = one_backend("10.96.0.12", 80, "172.16.0.9", "external-backend");
  engine_.apply({s}, {}, false);
  EXPECT_FALSE(plan("10.244.1.2", "10.96.0.12", 80).cache.ok()) << "a VIP whose backend is outside the cluster";
  FlowPlan in = plan("172.16.0.9", "10.244.1.3", 8080);
  EXPECT_EQ(int(in.action), int(PlanAction::kPass)) << "from outside the cluster to a pod, untranslated: no record";
  EXPECT_FALSE(in.cache.ok());
  EXPECT_TRUE(plan("192.168.50.9", "10.244.1.3", 8080).cache.from_outside()) << "from a node";
}

TEST_F(CachePlan, NeitherEndAPodHereStaysOnTheTunPath) {
  two_uplinks(pods_);
  cluster_peers(pods_);
  EXPECT_FALSE(plan("10.244.2.7", "10.244.3.8", 8080).cache.ok()) << "passing through";
  EXPECT_EQ(int(plan("10.244.2.7", "10.244.3.8", 8080).action), int(PlanAction::kPass)) << "no record without policy";
}

TEST_F(CachePlan, NodePortToAnEndpointOnAnotherNodePassesThrough) {
  ServicePortSpec s = one_backend("192.168.50.2", 30086, "10.244.2.7", "remote");
  s.masquerade = true;
  s.masquerade_addr = ip("192.168.50.2");
  engine_.apply({s}, {}, false);
  EXPECT_FALSE(plan("203.0.113.10", "192.168.50.2", 30086).cache.ok()) << "no uplink known";
  two_uplinks(pods_);
  FlowPlan p = plan("203.0.113.10", "192.168.50.2", 30086);
  ASSERT_TRUE(p.cache.ok());
  ASSERT_TRUE(p.cache.passing_through());
  EXPECT_FALSE(p.cache.from_outside());
  EXPECT_FALSE(p.cache.to_outside());
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 4u) << "both directions at each uplink";
  for (size_t i = 0; i < 4; i++) {
    const fastpath::FlowEntry& f = e[i];
    bool fwd = i % 2 == 0;
    EXPECT_EQ(f.key.ifindex, i < 2 ? 11u : 12u);
    EXPECT_EQ(f.value.action, PODNET_ACT_REDIRECT_FIB);
    EXPECT_EQ(f.value.flags, PODNET_FLOW_HAIRPIN) << "may leave by the uplink it came in on";
    EXPECT_EQ(f.value.mtu, 1400);
    EXPECT_EQ(f.value.flow_id, cache_flow_id(5, 9, fwd ? kForward : kReverse));
    if (fwd) {
      EXPECT_TRUE(same16(f.key.saddr, "203.0.113.10"));
      EXPECT_TRUE(same16(f.value.new_saddr, "192.168.50.2")) << "SNAT to the node";
      EXPECT_TRUE(same16(f.value.new_daddr, "10.244.2.7")) << "DNAT to the endpoint";
    } else {
      EXPECT_TRUE(same16(f.key.saddr, "10.244.2.7")) << "the endpoint's reply";
      EXPECT_TRUE(same16(f.key.daddr, "192.168.50.2"));
      EXPECT_TRUE(same16(f.value.new_saddr, "192.168.50.2")) << "from the NodePort";
      EXPECT_TRUE(same16(f.value.new_daddr, "203.0.113.10")) << "back to the client";
    }
  }
  pods_.set_uplinks({Uplink{11, 1500}, Uplink{12, 1400}, Uplink{13, 1500}, Uplink{14, 1500}, Uplink{15, 1500},
                     Uplink{16, 1500}, Uplink{17, 1500}, Uplink{18, 1500}, Uplink{19, 1500}});
  EXPECT_EQ(cache_entries(plan("203.0.113.10", "192.168.50.2", 30086), hit_of(p), e), 2 * kMaxUplinks) << "bounded";
}

TEST_F(CachePlan, BetweenLocalPodsUplinksChangeNothing) {
  two_uplinks(pods_);
  FlowPlan p = plan("10.244.1.2", "10.96.0.10", 80);
  ASSERT_TRUE(p.cache.ok());
  EXPECT_FALSE(p.cache.from_outside());
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 2u);
  EXPECT_EQ(e[0].key.ifindex, 3u);
  EXPECT_EQ(e[1].key.ifindex, 4u);
  EXPECT_EQ(e[1].value.action, PODNET_ACT_REDIRECT_PEER);
  EXPECT_EQ(e[1].value.target_ifindex, 3u);
}

TEST_F(CachePlan, EgressMasqueradeWithUplinks) {
  two_uplinks(pods_);
  FlowPlan p = plan("10.244.1.2", "198.51.100.7", 443);
  ASSERT_EQ(int(p.kind), int(FlowKind::kMasquerade));
  ASSERT_TRUE(p.cache.ok());
  ASSERT_TRUE(p.cache.to_outside());
  EXPECT_FALSE(p.cache.from_outside());
  CacheEntries e;
  ASSERT_EQ(cache_entries(p, hit_of(p), e), 3u) << "one reply entry per uplink, one forward";
  uint16_t port = p.flow.fwd_x.sport;
  for (size_t i = 0; i < 2; i++) {
    const fastpath::FlowEntry& r = e[i];
    EXPECT_EQ(r.key.ifindex, i == 0 ? 11u : 12u) << "replies keyed at the uplinks";
    EXPECT_TRUE(same16(r.key.saddr, "198.51.100.7"));
    EXPECT_TRUE(same16(r.key.daddr, "192.0.2.1")) << "to the masquerade address";
    EXPECT_EQ(ntohs(r.key.dport), port);
    EXPECT_EQ(r.value.rewrite, PODNET_RW_DADDR | PODNET_RW_DPORT | PODNET_RW_MACS);
    EXPECT_TRUE(same16(r.value.new_daddr, "10.244.1.2")) << "back to the pod";
    EXPECT_EQ(ntohs(r.value.new_dport), 40000);
    EXPECT_EQ(r.value.action, PODNET_ACT_REDIRECT_PEER);
    EXPECT_EQ(r.value.target_ifindex, 3u);
    EXPECT_EQ(r.value.flow_id, cache_flow_id(5, 9, kReverse));
  }
  const fastpath::FlowEntry& f = e[2];
  EXPECT_EQ(f.key.ifindex, 3u) << "forward keyed at the pod's veth";
  EXPECT_TRUE(same16(f.key.daddr, "198.51.100.7"));
  EXPECT_EQ(f.value.rewrite, PODNET_RW_SADDR | PODNET_RW_SPORT);
  EXPECT_TRUE(same16(f.value.new_saddr, "192.0.2.1"));
  EXPECT_EQ(ntohs(f.value.new_sport), port);
  EXPECT_EQ(f.value.action, PODNET_ACT_REDIRECT_FIB);
  EXPECT_EQ(f.value.mtu, 1400);
  EXPECT_EQ(f.value.flow_id, cache_flow_id(5, 9, kForward));
}
