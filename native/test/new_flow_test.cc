// The first packet of a flow (new_flow.h) through the whole engine: trace (the plan alone)
// must name exactly what the packet path then does (the plan committed), for Maglev,
// ClientIP affinity, hairpin and service masquerade, egress masquerade, rejections and
// NetworkPolicy denials, and trace must create nothing.
#include <gtest/gtest.h>

#include "../checksum.h"
#include "../engine.h"
#include "addr.h"
#include "engine_config.h"

using namespace podnet;
using podnet::test::ip;

namespace {

ServicePortSpec svc(const char* vip, uint32_t affinity, std::vector<const char*> backends, const char* masq = nullptr) {
  ServicePortSpec s;
  s.key = SvcKey{ip(vip), 80, 4, kTCP};
  s.affinity_timeout_s = affinity;
  s.name = vip;
  for (const char* b : backends) s.backends.push_back(BackendSpec{ip(b), 8080, false, b});
  if (masq) {
    s.masquerade = true;
    s.masquerade_addr = ip(masq);
  }
  return s;
}

class FirstPacket : public testing::Test {
 protected:
  FirstPacket() : engine_(config()) {
    engine_.apply({svc("10.96.0.10", 0, {"10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5"}),
                   svc("10.96.0.20", 60, {"10.244.1.2", "10.244.1.3", "10.244.1.4"}),
                   svc("10.96.0.30", 0, {"10.244.1.2"}, "10.0.0.1"), svc("10.96.0.40", 0, {})},
                  {}, true);
  }
  static EngineConfig config() { return podnet::test::small_engine_config({{"10.0.0.0", 8}, {"10.96.0.0", 12}}); }

  // Traces a SYN from src:sport to dst:80, then sends it; both must agree.
  void agree(const char* src, uint16_t sport, const char* dst) {
    Engine::TraceQuery q{4, ip(src), ip(dst), kTCP, sport, 80};
    TraceInfo ti;
    std::shared_ptr<const ServiceTable> t;
    std::shared_ptr<const PolicyTable> pol;
    uint64_t before = engine_.flows().stats().active;
    engine_.trace(q, ti, t, pol);
    EXPECT_EQ(engine_.flows().stats().active, before) << "trace creates nothing";
    uint8_t pkt[64];
    size_t len = build_first_packet(4, q.src, q.dst, kTCP, sport, 80, pkt);
    Result r = engine_.process(pkt, len, nullptr, monotonic_ms());
    std::string what = std::string(src) + ":" + std::to_string(sport) + " -> " + dst;
    ASSERT_EQ(int(r.verdict), int(ti.verdict)) << what;
    EXPECT_EQ(int(r.reason), int(ti.reason)) << what;
    if (r.verdict != Verdict::kForward) return;
    Parsed p;
    ASSERT_TRUE(parse_packet(r.out, r.out_len, p, nullptr));
    Addr want_dst = (ti.x.rewrite & kRewriteDst) ? ti.x.dst : q.dst;
    Addr want_src = (ti.x.rewrite & kRewriteSrc) ? ti.x.src : q.src;
    EXPECT_TRUE(p.key.dst == want_dst) << what;
    EXPECT_TRUE(p.key.src == want_src) << what;
    EXPECT_EQ(p.key.dport, (ti.x.rewrite & kRewriteDst) ? ti.x.dport : 80) << what;
    EXPECT_EQ(p.key.sport, (ti.x.rewrite & kRewriteSrc) ? ti.x.sport : sport) << what;
  }

  Engine engine_;
};

}  // namespace

TEST_F(FirstPacket, MaglevChoiceTracedExactly) {
  for (uint16_t c = 0; c < 200; c++) agree("10.1.0.7", uint16_t(20000 + c), "10.96.0.10");
}

TEST_F(FirstPacket, AffinityChoiceTracedExactly) {
  for (uint16_t c = 0; c < 50; c++) agree(c % 2 ? "10.1.0.7" : "10.1.0.8", uint16_t(30000 + c), "10.96.0.20");
}

TEST_F(FirstPacket, HairpinAndServiceMasqueradeTracedExactly) {
  agree("10.244.1.2", 40000, "10.96.0.30");  // masquerade to 10.0.0.1
  agree("10.244.1.2", 40000, "10.96.0.20");  // hairpin, should the choice be the client itself
  agree("10.244.1.2", 40001, "10.96.0.10");
}

TEST_F(FirstPacket, EgressMasqueradeTracedExactly) {
  agree("10.244.1.9", 41000, "198.51.100.7");
  agree("10.244.1.9", 41000, "198.51.100.8");
}

TEST_F(FirstPacket, RejectionsAndPassthroughTracedExactly) {
  agree("10.1.0.7", 42000, "10.96.0.40");  // no backend
  agree("10.1.0.7", 42000, "10.244.1.2");  // pod to pod, nothing isolated: passthrough
  agree("10.1.0.7", 42000, "10.0.0.9");    // exempt from masquerade
}

TEST_F(FirstPacket, PolicyDenialTracedExactly) {
  PolicySpec s;
  RuleSetSpec rs;
  rs.isolated_by = {"x/only-10-2"};
  rs.rules.push_back({"x/only-10-2", {}, {PolicyPeerSpec{4, ip("10.2.0.0"), 16, {}}}});
  s.rule_sets = {rs};
  s.pods.push_back({"x/web", 0, -1, {VipKey{ip("10.244.1.3"), 4}}});
  engine_.set_policy(build_policy_table(s));
  for (uint16_t c = 0; c < 40; c++) {
    agree("10.1.0.7", uint16_t(43000 + c), "10.96.0.10");
    agree("10.2.0.7", uint16_t(43000 + c), "10.96.0.10");
  }
  agree("10.1.0.7", 44000, "10.244.1.3");
  agree("10.2.0.7", 44000, "10.244.1.3");
}

// podnetd's datapath probe: an echo request to the probe address is answered in place and
// counted as probe_reply (not as a VIP echo), whatever NetworkPolicy says; nothing is tracked.
// The same ping to a neighbouring address passes through untouched.
TEST_F(FirstPacket, ProbeEchoAnsweredInPlace) {
  PolicySpec s;
  RuleSetSpec rs;
  rs.isolated_by = {"x/deny-all"};
  s.rule_sets = {rs};
  s.pods.push_back({"x/web", 0, 0, {VipKey{ip("10.244.1.3"), 4}}});
  engine_.set_policy(build_policy_table(s));
  auto ping = [](const char* dst, uint8_t* pkt) {
    size_t ih = write_ip_header(pkt, 4, ip("10.244.0.1"), ip(dst), kICMP, 16);
    uint8_t* icmp = pkt + ih;
    std::memset(icmp, 0, 16);
    icmp[0] = 8;
    store16(icmp + 4, 0x4242);
    store16(icmp + 6, 7);
    store16(icmp + 2, csum_full(icmp, 16));
    return ih + 16;
  };
  uint8_t pkt[64];
  uint64_t before = engine_.flows().stats().active;
  size_t len = ping("169.254.42.2", pkt);
  Result r = engine_.process(pkt, len, nullptr, monotonic_ms());
  ASSERT_EQ(int(r.verdict), int(Verdict::kReply));
  Parsed p;
  ASSERT_TRUE(parse_packet(r.out, r.out_len, p, nullptr));
  EXPECT_TRUE(p.icmp_echo_reply);
  EXPECT_TRUE(p.key.src == ip("169.254.42.2"));
  EXPECT_TRUE(p.key.dst == ip("10.244.0.1"));
  EXPECT_EQ(csum_full(r.out + 20, 16), 0) << "ICMP checksum";
  EXPECT_EQ(csum_full(r.out, 20), 0) << "IPv4 header checksum";
  EXPECT_EQ(engine_.counters().replies[int(Reply::probe_reply)].load(), 1u);
  EXPECT_EQ(engine_.counters().replies[int(Reply::echo_reply)].load(), 0u);
  EXPECT_EQ(engine_.flows().stats().active, before) << "the probe is not tracked";

  len = ping("169.254.42.3", pkt);
  r = engine_.process(pkt, len, nullptr, monotonic_ms());
  EXPECT_EQ(int(r.verdict), int(Verdict::kForward)) << "not the probe address: passed on";
  EXPECT_EQ(engine_.counters().replies[int(Reply::probe_reply)].load(), 1u);
}
