// The checks on the engine's small JS inputs (options.cc): engine options with the
// egress-masquerade config and timeouts, TUN options, trace queries. Each bad input is a table
// row with the code and the exact message JS receives.
#include <gtest/gtest.h>

#include "../addr_text.h"
#include "../options.h"
#include "addr.h"

using namespace podnet;
using podnet::test::ip;

namespace {

using Fields = std::vector<std::pair<std::string, Input>>;
Input obj(Fields f) { return Input::object(std::move(f)); }
Input str(const char* s) { return Input::str(s); }
Input num(double d) { return Input::num(d); }
Input strs(std::vector<const char*> v) {
  std::vector<Input> items;
  for (const char* s : v) items.push_back(str(s));
  return Input::array(std::move(items));
}

struct Bad {
  const char* name;
  Input input;
  const char* code;
  const char* message;
};

template <typename F>
void expect_error(const Bad& b, F&& parse) {
  try {
    parse(b.input);
    ADD_FAILURE() << b.name << ": accepted";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code, b.code) << b.name;
    EXPECT_STREQ(e.what(), b.message) << b.name;
  }
}

TEST(EngineConfig, DefaultsForAnAbsentOrNonObjectInput) {
  EngineConfig def;
  for (const Input& in : {Input{}, num(3), str("x"), obj({})}) {
    EngineConfig c = engine_config(in);
    EXPECT_EQ(c.flow_capacity, def.flow_capacity);
    EXPECT_EQ(c.maglev_size, def.maglev_size);
    EXPECT_EQ(c.timeouts.udp_ms, def.timeouts.udp_ms);
    EXPECT_FALSE(c.masq.v4);
    EXPECT_TRUE(c.state_file.empty());
  }
}

TEST(EngineConfig, ReadsEveryField) {
  EngineConfig c = engine_config(obj({
      {"flowCapacity", num(1024)},
      {"maglevSize", num(251)},
      {"maxServicePorts", num(10)},
      {"hairpinIPv4", str("169.254.0.9")},
      {"hairpinIPv6", str("fd00::9")},
      {"stateFile", str("/run/podnet/flows")},
      {"timeouts", obj({{"udpSec", num(5)}, {"tcpEstablishedSec", num(600)}})},
      {"egressMasquerade", obj({{"podCIDRs", strs({"10.244.0.0/16", "10.244.1.0/24", "fd00:10:244::/48"})},
                                {"exemptCIDRs", strs({"10.0.0.0/8"})},
                                {"sourceIPv4", str("192.0.2.1")},
                                {"portMin", num(20000)},
                                {"portMax", num(20010)}})},
  }));
  EXPECT_EQ(c.flow_capacity, 1024u);
  EXPECT_EQ(c.maglev_size, 251u);
  EXPECT_EQ(c.max_service_ports, 10u);
  EXPECT_EQ(c.hairpin4, ip("169.254.0.9"));
  EXPECT_EQ(c.hairpin6, ip("fd00::9"));
  EXPECT_EQ(c.state_file, "/run/podnet/flows");
  EXPECT_EQ(c.timeouts.udp_ms, 5000u);
  EXPECT_EQ(c.timeouts.tcp_established_ms, 600000u);
  EXPECT_EQ(c.timeouts.icmp_ms, Timeouts{}.icmp_ms);
  ASSERT_EQ(c.masq.pods4.size(), 1u) << "10.244.1.0/24 merges into 10.244.0.0/16";
  EXPECT_EQ(c.masq.pods4[0].lo, ip("10.244.0.0"));
  EXPECT_EQ(c.masq.pods4[0].hi, ip("10.244.255.255"));
  EXPECT_EQ(c.masq.pods6.size(), 1u);
  EXPECT_EQ(c.masq.exempt4.size(), 1u);
  EXPECT_TRUE(c.masq.v4);
  EXPECT_FALSE(c.masq.v6);
  EXPECT_EQ(c.masq.src4, ip("192.0.2.1"));
  EXPECT_EQ(c.masq.port_lo, 20000);
  EXPECT_EQ(c.masq.port_hi, 20010);
}

TEST(EngineConfig, BadOptionsNameTheField) {
  const char* opt = "ENGINE_BAD_OPTION";
  const Bad bad[] = {
      {"negative", obj({{"flowCapacity", num(-1)}}), opt, "flowCapacity: must be an integer in [16, 67108864]"},
      {"fraction", obj({{"maglevSize", num(2.5)}}), opt, "maglevSize: must be an integer in [3, 1000003]"},
      {"NaN", obj({{"maxServicePorts", num(0.0 / 0.0)}}), opt, "maxServicePorts: must be an integer in [1, 4194304]"},
      {"string number", obj({{"flowCapacity", str("64")}}), opt, "flowCapacity: not a number"},
      {"hairpin family", obj({{"hairpinIPv4", str("fd00::1")}}), opt, "hairpinIPv4: not an IPv4 address"},
      {"hairpin type", obj({{"hairpinIPv6", num(1)}}), opt, "hairpinIPv6: not an IPv6 address"},
      {"masq type", obj({{"egressMasquerade", str("yes")}}), opt, "egressMasquerade: not an object"},
      {"state file", obj({{"stateFile", num(1)}}), opt, "stateFile: not a string"},
      {"timeout zero", obj({{"timeouts", obj({{"udpSec", num(0)}})}}), opt,
       "timeouts.udpSec: must be an integer in [1, 2592000]"},
      {"masq cidr", obj({{"egressMasquerade", obj({{"podCIDRs", strs({"10.0.0.0/8", "x"})}})}}), opt,
       "egressMasquerade.podCIDRs[1]: not a CIDR: 'x'"},
      {"masq cidr type", obj({{"egressMasquerade", obj({{"exemptCIDRs", Input::array({num(1)})}})}}), opt,
       "egressMasquerade.exemptCIDRs[0]: not a CIDR: ''"},
      {"masq cidrs type", obj({{"egressMasquerade", obj({{"podCIDRs", str("10.0.0.0/8")}})}}), opt,
       "egressMasquerade.podCIDRs: not an array"},
      {"masq source", obj({{"egressMasquerade", obj({{"sourceIPv6", str("10.0.0.1")}})}}), opt,
       "egressMasquerade.sourceIPv6: not an IPv6 address"},
      {"masq port", obj({{"egressMasquerade", obj({{"portMin", num(80)}})}}), opt,
       "egressMasquerade.portMin: must be an integer in [1024, 65535]"},
      {"masq ports", obj({{"egressMasquerade", obj({{"portMin", num(3000)}, {"portMax", num(2000)}})}}), opt,
       "egressMasquerade.portMax: below portMin"},
  };
  for (const Bad& b : bad) expect_error(b, engine_config);
}

TEST(TunConfig, ReadsFieldsAndDefaults) {
  TunConfig c = tun_config(obj({{"name", str("podnet0")}}));
  EXPECT_EQ(c.name, "podnet0");
  EXPECT_EQ(c.queues, 1u);
  EXPECT_EQ(c.batch, 64u);
  EXPECT_EQ(c.busy_poll_us, 0u);
  EXPECT_FALSE(c.persist);
  EXPECT_EQ(c.steering, Steering::kCpu);
  c = tun_config(obj({{"name", str("t")}, {"queues", num(4)}, {"batch", num(128)}, {"busyPollUs", num(50)},
                      {"persist", str("yes")}, {"steering", str("flow")}}));
  EXPECT_EQ(c.steering, Steering::kFlow);
  EXPECT_EQ(c.queues, 4u);
  EXPECT_EQ(c.batch, 128u);
  EXPECT_EQ(c.busy_poll_us, 50u);
  EXPECT_TRUE(c.persist) << "persist is JavaScript truthiness";
}

TEST(TunConfig, BadOptions) {
  const char* opt = "ENGINE_BAD_OPTION";
  const Bad bad[] = {
      {"absent", Input{}, opt, "attachTun: options required"},
      {"no name", obj({}), opt, "name: required string"},
      {"queues", obj({{"name", str("t")}, {"queues", num(65)}}), opt, "queues: must be an integer in [1, 64]"},
      {"batch", obj({{"name", str("t")}, {"batch", num(0)}}), opt, "batch: must be an integer in [1, 4096]"},
      {"steering", obj({{"name", str("t")}, {"steering", str("rss")}}), opt, "steering: must be \"cpu\" or \"flow\""},
      {"steering type", obj({{"name", str("t")}, {"steering", num(1)}}), opt, "steering: must be \"cpu\" or \"flow\""},
  };
  for (const Bad& b : bad) expect_error(b, tun_config);
}

TEST(TraceQuery, ReadsFieldsAndDefaults) {
  Engine::TraceQuery q =
      trace_query(obj({{"from", str("fd00::1")}, {"to", str("fd00::2")}, {"port", num(443)}, {"protocol", str("UDP")}}));
  EXPECT_EQ(q.family, 6);
  EXPECT_EQ(q.src, ip("fd00::1"));
  EXPECT_EQ(q.dst, ip("fd00::2"));
  EXPECT_EQ(q.dport, 443);
  EXPECT_EQ(q.proto, kUDP);
  EXPECT_EQ(q.sport, 40000);
  q = trace_query(obj({{"from", str("10.0.0.1")}, {"to", str("10.96.0.1")}, {"port", num(80)}, {"protocol", str("TCP")},
                       {"sourcePort", num(1234)}}));
  EXPECT_EQ(q.family, 4);
  EXPECT_EQ(q.proto, kTCP);
  EXPECT_EQ(q.sport, 1234);
}

TEST(TraceQuery, BadQueries) {
  const char* spec = "ENGINE_BAD_SPEC";
  // A good query with one field set to v (added when it is not one of the four).
  auto q = [](const std::string& key, Input v) {
    Fields f = {{"from", str("10.0.0.1")}, {"to", str("10.96.0.1")}, {"port", num(80)}, {"protocol", str("TCP")}};
    bool found = false;
    for (auto& [k, old] : f)
      if (k == key) old = v, found = true;
    if (!found) f.emplace_back(key, v);
    return obj(f);
  };
  const Bad bad[] = {
      {"absent", Input{}, spec, "trace: options required"},
      {"no from", obj({{"to", str("10.0.0.1")}}), spec, "trace.from: required"},
      {"to type", q("to", num(1)), spec, "trace.to: not a string"},
      {"from", q("from", str("x")), spec, "trace.from: not an IP address: 'x'"},
      {"family", q("to", str("fd00::1")), spec, "trace.to: family differs from trace.from"},
      {"port", q("port", num(0)), spec, "trace.port: must be an integer in [1, 65535]"},
      {"port type", q("port", str("80")), spec, "trace.port: not a number"},
      {"protocol", q("protocol", str("SCTP")), spec, "trace.protocol: must be TCP or UDP, got 'SCTP'"},
      {"source port", q("sourcePort", num(70000)), "ENGINE_BAD_OPTION",
       "trace.sourcePort: must be an integer in [1, 65535]"},
  };
  for (const Bad& b : bad) expect_error(b, trace_query);
}

TEST(CidrList, MergesByFamilyAndNamesTheFirstBadEntry) {
  std::vector<IpRange> v4, v6;
  EXPECT_EQ(cidr_list({"10.0.0.0/24", "10.0.1.0/24", "fd00::/64", "192.0.2.7"}, v4, v6), -1);
  ASSERT_EQ(v4.size(), 2u) << "adjacent /24s merge; the bare address stays apart";
  EXPECT_EQ(v4[0].hi, ip("10.0.1.255"));
  EXPECT_EQ(v4[1].lo, ip("192.0.2.7"));
  EXPECT_EQ(v6.size(), 1u);
  v4.clear();
  v6.clear();
  EXPECT_EQ(cidr_list({"10.0.0.0/8", "10.0.0.0/33"}, v4, v6), 1);
}

}  // namespace
