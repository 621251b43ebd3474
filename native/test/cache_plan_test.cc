// Which admitted flows the kernel flow cache takes (new_flow.cc plan_cache): a flow is cached
// when both its ends are pods of this node after translation (service DNAT, hairpin, a plain
// pod-to-pod flow, which then gets a record of its own), and never when an end is elsewhere
// (a client off node, egress masquerade) or when the fast path is off (no pod table).
#include <gtest/gtest.h>

#include "../engine.h"
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
    engine_.apply({s}, {}, true);
    LocalPod a{3, {2, 0, 0, 0, 0, 3}, {2, 0, 0, 0, 0, 1}}, b{4, {2, 0, 0, 0, 0, 4}, {2, 0, 0, 0, 0, 1}};
    pods_.put(4, ip("10.244.1.2"), a);
    pods_.put(4, ip("10.244.1.3"), b);
  }
  static EngineConfig config() { return podnet::test::small_engine_config({{"10.96.0.0", 12}, {"10.244.0.0", 16}}); }

  FlowPlan plan(const char* src, const char* dst, uint16_t dport, bool with_pods = true, uint8_t proto = kTCP) {
    auto t = engine_.table();
    auto pol = engine_.policy();
    PipelineEnv env{&flows_, engine_.config().hairpin4, engine_.config().hairpin6, &counters_, svc_.get(), 16, be_.get(), 64,
                    pol_.get(), 16};
    size_t len = build_first_packet(4, ip(src), ip(dst), proto, 40000, dport, pkt_);
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
  uint8_t pkt_[64];
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

TEST_F(CachePlan, RemoteEndsAndMasqueradeStayOnTheTunPath) {
  EXPECT_FALSE(plan("10.1.0.7", "10.96.0.10", 80).cache.ok()) << "client off node";
  EXPECT_FALSE(plan("10.244.1.2", "10.244.9.9", 80).cache.ok()) << "server off node";
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
