// NetworkPolicy compile (policy_build.cc) and decision (policy.cc): a table of flows and the
// verdict each must get, per direction, port, port range, protocol and ipBlock.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>

#include "../policy.h"
#include "addr.h"

using namespace podnet;
using podnet::test::ip;

namespace {

VipKey key(const char* s) { return VipKey{ip(s), uint8_t(std::strchr(s, ':') ? 6 : 4)}; }

PolicyPeerSpec peer(const char* base, uint32_t prefix, std::vector<std::pair<const char*, uint32_t>> except = {}) {
  PolicyPeerSpec p{};
  p.family = std::strchr(base, ':') ? 6 : 4;
  p.base = ip(base);
  p.prefix = prefix;
  for (auto [a, l] : except) p.except.emplace_back(ip(a), l);
  return p;
}

// Pods: web 10.244.1.2 (ingress isolated by x/web: TCP 8080-8090 from 10.244.0.0/16 except
// 10.244.9.0/24; UDP 53 from anyone), db 10.244.1.3 (ingress and egress isolated, no rules:
// default deny), client 10.244.2.9 (egress isolated by x/egress: only TCP 443 to 192.0.2.0/24),
// free 10.244.3.3 (not isolated), v6 fd00::2 (ingress from fd00::/64 on any port).
PolicyTable table() {
  PolicySpec s;
  RuleSetSpec web;
  web.isolated_by = {"x/web"};
  web.rules.push_back({"x/web", {{kTCP, 8080, 8090}}, {peer("10.244.0.0", 16, {{"10.244.9.0", 24}})}});
  web.rules.push_back({"x/dns", {{kUDP, 53, 53}}, {}});
  RuleSetSpec deny;
  deny.isolated_by = {"x/deny-all"};
  RuleSetSpec egress;
  egress.isolated_by = {"x/egress"};
  egress.rules.push_back({"x/egress", {{kTCP, 443, 443}}, {peer("192.0.2.0", 24)}});
  RuleSetSpec v6;
  v6.isolated_by = {"x/v6"};
  v6.rules.push_back({"x/v6", {}, {peer("fd00::", 64)}});
  s.rule_sets = {web, deny, egress, v6};
  s.pods.push_back({"x/web", 0, -1, {key("10.244.1.2")}});
  s.pods.push_back({"x/db", 1, 1, {key("10.244.1.3")}});
  s.pods.push_back({"x/client", -1, 2, {key("10.244.2.9")}});
  s.pods.push_back({"x/free", -1, -1, {key("10.244.3.3")}});
  s.pods.push_back({"x/v6", 3, -1, {key("fd00::2")}});
  s.hosts = {key("10.0.0.1")};
  return build_policy_table(s);
}

struct Case {
  const char* name;
  const char* src;
  const char* dst;
  uint8_t proto;
  uint16_t port;
  bool allow;
  bool denied_egress;
  const char* by;  // the policy that allowed it, or that isolates the denying set
};

const Case kCases[] = {
    {"ingress allowed in range", "10.244.5.5", "10.244.1.2", kTCP, 8080, true, false, "x/web"},
    {"ingress allowed at range end", "10.244.5.5", "10.244.1.2", kTCP, 8090, true, false, "x/web"},
    {"ingress port above range", "10.244.5.5", "10.244.1.2", kTCP, 8091, false, false, "x/web"},
    {"ingress wrong protocol", "10.244.5.5", "10.244.1.2", kUDP, 8080, false, false, "x/web"},
    {"ingress from the except block", "10.244.9.1", "10.244.1.2", kTCP, 8080, false, false, "x/web"},
    {"ingress from outside the block", "10.245.0.1", "10.244.1.2", kTCP, 8080, false, false, "x/web"},
    {"ingress any peer on its port", "198.51.100.1", "10.244.1.2", kUDP, 53, true, false, "x/dns"},
    {"default deny ingress", "10.244.3.3", "10.244.1.3", kTCP, 5432, false, false, "x/deny-all"},
    {"default deny egress", "10.244.1.3", "10.244.3.3", kTCP, 80, false, true, "x/deny-all"},
    {"egress allowed", "10.244.2.9", "192.0.2.7", kTCP, 443, true, false, "x/egress"},
    {"egress wrong port", "10.244.2.9", "192.0.2.7", kTCP, 80, false, true, "x/egress"},
    {"egress wrong peer", "10.244.2.9", "198.51.100.7", kTCP, 443, false, true, "x/egress"},
    {"egress allowed, ingress denies", "10.244.2.9", "10.244.1.3", kTCP, 443, false, false, "x/deny-all"},
    {"neither isolated", "10.244.3.3", "198.51.100.1", kTCP, 80, true, false, nullptr},
    {"host to isolated pod", "10.0.0.1", "10.244.1.3", kTCP, 5432, true, false, nullptr},
    {"isolated pod to host", "10.244.1.3", "10.0.0.1", kTCP, 10250, true, false, nullptr},
    {"ipv6 in block any port", "fd00::9", "fd00::2", kUDP, 9999, true, false, "x/v6"},
    {"ipv6 outside block", "fd01::9", "fd00::2", kTCP, 80, false, false, "x/v6"},
};

}  // namespace

class Decide : public testing::TestWithParam<Case> {};

TEST_P(Decide, Verdict) {
  static const PolicyTable t = table();
  const Case& c = GetParam();
  VipKey s = key(c.src), d = key(c.dst);
  PolicyDecision got = policy_decide(t, s.family, s.addr, d.addr, c.proto, c.port);
  EXPECT_EQ(got.allow, c.allow);
  EXPECT_EQ(got.denied_egress, c.denied_egress);
  if (!c.allow) {
    ASSERT_GE(got.deny_set, 0);
    ASSERT_EQ(t.sets[size_t(got.deny_set)].isolated_by.size(), 1u);
    EXPECT_EQ(t.policies[t.sets[size_t(got.deny_set)].isolated_by[0]], c.by);
  } else if (c.by) {
    ASSERT_LT(got.allow_policy, t.policies.size());
    EXPECT_EQ(t.policies[got.allow_policy], c.by);
    EXPECT_TRUE(got.tracked);
  } else {
    EXPECT_EQ(got.allow_policy, UINT32_MAX);
  }
}

INSTANTIATE_TEST_SUITE_P(Flows, Decide, testing::ValuesIn(kCases), [](const auto& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

TEST(Policy, NothingIsolatedDecidesNothing) {
  PolicySpec s;
  s.pods.push_back({"x/free", -1, -1, {key("10.244.3.3")}});
  PolicyTable t = build_policy_table(s);
  EXPECT_FALSE(t.active);
  PolicyDecision d = policy_decide(t, 4, ip("10.1.1.1"), ip("10.244.3.3"), kTCP, 80);
  EXPECT_TRUE(d.allow);
  EXPECT_FALSE(d.tracked);
}

TEST(Policy, RulesWithTheSamePortsShareOneClass) {
  PolicySpec s;
  RuleSetSpec rs;
  rs.rules.push_back({"a", {{kTCP, 80, 80}}, {peer("10.0.1.0", 24)}});
  rs.rules.push_back({"b", {{kTCP, 80, 80}}, {peer("10.0.2.0", 24)}});
  rs.rules.push_back({"c", {{kTCP, 81, 81}}, {peer("10.0.2.0", 24)}});
  s.rule_sets = {rs};
  s.pods.push_back({"x/p", 0, -1, {key("10.244.1.2")}});
  PolicyTable t = build_policy_table(s);
  ASSERT_EQ(t.sets[0].classes.size(), 2u);
  EXPECT_EQ(t.sets[0].classes[0].v4.size(), 1u) << "adjacent peers merge into one range";
  EXPECT_EQ(t.policies, (std::vector<std::string>{"a", "b", "c"}));
}
