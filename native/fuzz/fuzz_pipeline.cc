// libFuzzer target: arbitrary bytes through the whole pipeline (parse, vnet check, ICMP
// translation, flow lookup, new flow, rewrite, replies) of an engine with a few services.
// The first input byte picks the mode: bit 0 = with a virtio_net_hdr, bits 1-7 = clock step.
// Built with ASan+UBSan by run.sh; any crash, overflow or UB is a finding.
#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <vector>

#include "../engine.h"

using namespace podnet;

namespace {

Addr addr(const char* s, uint8_t& fam) {
  Addr a{};
  fam = inet_pton(AF_INET, s, a.b) == 1 ? 4 : (inet_pton(AF_INET6, s, a.b), 6);
  return a;
}

ServicePortSpec spec(const char* vip, uint16_t port, uint8_t proto, std::vector<const char*> backends, uint32_t aff) {
  ServicePortSpec s;
  s.key.vip = addr(vip, s.key.family);
  s.key.port = port;
  s.key.proto = proto;
  s.affinity_timeout_s = aff;
  for (const char* b : backends) {
    uint8_t f;
    s.backends.push_back(BackendSpec{addr(b, f), 8080, false, ""});
  }
  return s;
}

Engine* make_engine() {
  EngineConfig c;
  c.flow_capacity = 256;  // small: eviction paths get exercised
  c.maglev_size = 251;
  c.max_service_ports = 64;
  auto* e = new Engine(c);
  e->apply({spec("10.96.0.10", 80, kTCP, {"10.244.1.2", "10.244.1.3", "10.244.1.4"}, 0),
            spec("10.96.0.10", 53, kUDP, {"10.244.1.5"}, 0), spec("10.96.0.11", 80, kTCP, {}, 0),
            spec("10.96.0.12", 80, kTCP, {"10.244.1.2", "10.244.1.3"}, 30),
            spec("fd00:10:96::10", 80, kTCP, {"fd00:10:244:1::2", "fd00:10:244:1::3"}, 0),
            spec("fd00:10:96::10", 53, kUDP, {"fd00:10:244:1::5"}, 0)},
           {}, true);
  // A policy too, so the NetworkPolicy decision and the tracked pod-to-pod flows are fuzzed.
  PolicyTable pt;
  RuleSet rs;
  PortClass pc{};
  pc.proto = kTCP;
  pc.lo = 8080;
  pc.hi = 8090;
  uint8_t f;
  cidr_ranges(4, addr("10.244.1.0", f), 24, {{addr("10.244.1.128", f), 25}}, 0, pc.v4);
  rs.classes.push_back(pc);
  rs.isolated_by = {0};
  finish_rule_set(rs);
  pt.sets.push_back(rs);
  pt.policies = {"x/p"};
  pt.pods[VipKey{addr("10.244.1.2", f), 4}] = PodPolicy{0, 0, 0};
  pt.pods[VipKey{addr("10.244.1.100", f), 4}] = PodPolicy{-1, 0, 0};
  pt.active = true;
  e->set_policy(std::move(pt));
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Engine* engine = make_engine();
  static uint64_t now = 1'000'000;
  if (size < 1) return 0;
  uint8_t mode = data[0];
  now += uint64_t(mode >> 1) * 997;
  std::vector<uint8_t> buf(data + 1, data + size);  // exact-size copy: ASan sees any overread
  VnetHdr vh{};
  uint8_t* pkt = buf.data();
  size_t len = buf.size();
  if ((mode & 1) && len >= sizeof vh) {
    std::memcpy(&vh, pkt, sizeof vh);
    pkt += sizeof vh;
    len -= sizeof vh;
  }
  Result r = engine->process(pkt, len, (mode & 1) ? &vh : nullptr, now);
  if (r.verdict != Verdict::kDrop && r.out_len > 65535 + 64) __builtin_trap();
  return 0;
}
