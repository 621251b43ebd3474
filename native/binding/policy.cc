// setPolicy() input -> PolicySpec (the PolicyTables of src/engine/types.ts; policy_build.cc
// compiles it), and policyStats() out. Converted field by field like the service specs: the
// tables list every pod of the node's policies.
#include "../addr_text.h"
#include "binding.h"

namespace podnet::binding {

namespace {

// One rule of a PolicyTables rule set (src/engine/types.ts).
PolicyRuleSpec parse_rule(Napi::Object ro, const std::string& rw) {
  Napi::Env env = ro.Env();
  PolicyRuleSpec rule;
  rule.policy = get_string(ro, "policy", rw, true);
  Napi::Array pa = get_array(ro, "ports", rw, false);
  for (uint32_t k = 0; k < pa.Length(); k++) {
    std::string pw = at(rw + ".ports", k);
    Napi::Object po = object_at(pa, k, pw);
    std::string proto = get_string(po, "protocol", pw, true);
    PolicyPortSpec port{};
    port.proto = proto == "TCP" ? kTCP : proto == "UDP" ? kUDP : proto == "SCTP" ? 132 : 0;
    if (!port.proto) bad(env, pw + ".protocol", "must be TCP, UDP or SCTP, got '" + proto + "'");
    if (!absent(po.Get("port"))) {
      port.lo = port.hi = port_of(po.Get("port"), pw);
      Napi::Value ep = po.Get("endPort");
      if (!absent(ep)) port.hi = uint16_t(int_in(ep, pw + ".endPort", port.lo, 65535, "must be an integer in [port, 65535]"));
    }
    rule.ports.push_back(port);
  }
  Napi::Array peers = get_array(ro, "peers", rw, false);
  for (uint32_t k = 0; k < peers.Length(); k++) {
    std::string pw = at(rw + ".peers", k);
    Napi::Object po = object_at(peers, k, pw);
    std::string cidr = get_string(po, "cidr", pw, true);
    PolicyPeerSpec peer{};
    if (!parse_cidr(cidr, peer.base, peer.family, peer.prefix)) bad(env, pw + ".cidr", "not a CIDR: '" + cidr + "'");
    Napi::Array ex = get_array(po, "except", pw, false);
    for (uint32_t x = 0; x < ex.Length(); x++) {
      std::string xw = at(pw + ".except", x);
      std::string xs = string_at(ex, x, xw);
      Addr xa{};
      uint8_t xf = 0;
      uint32_t xp = 0;
      if (!parse_cidr(xs, xa, xf, xp) || xf != peer.family) bad(env, xw, "not a CIDR of the block's family: '" + xs + "'");
      peer.except.emplace_back(xa, xp);
    }
    rule.peers.push_back(std::move(peer));
  }
  return rule;
}

VipKey ip_at(Napi::Array a, uint32_t i, const std::string& w) {
  std::string s = string_at(a, i, w);
  VipKey key{};
  if (!parse_ip(s, key.addr, key.family)) bad(a.Env(), w, "not an IP address: '" + s + "'");
  return key;
}

}  // namespace

// PolicyTables (src/engine/types.ts) -> PolicySpec, compiled by policy_build.cc.
PolicySpec parse_policy(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) bad(env, "policy", "not an object");
  Napi::Object o = v.As<Napi::Object>();
  PolicySpec spec;
  Napi::Array sets = get_array(o, "ruleSets", "policy", true);
  for (uint32_t i = 0; i < sets.Length(); i++) {
    std::string w = at("ruleSets", i);
    Napi::Object so = object_at(sets, i, w);
    RuleSetSpec rs;
    Napi::Array iso = get_array(so, "isolatedBy", w, false);
    for (uint32_t k = 0; k < iso.Length(); k++) rs.isolated_by.push_back(string_at(iso, k, at(w + ".isolatedBy", k)));
    Napi::Array rules = get_array(so, "rules", w, true);
    for (uint32_t r = 0; r < rules.Length(); r++) {
      std::string rw = at(w + ".rules", r);
      rs.rules.push_back(parse_rule(object_at(rules, r, rw), rw));
    }
    spec.rule_sets.push_back(std::move(rs));
  }
  Napi::Array pods = get_array(o, "pods", "policy", true);
  for (uint32_t i = 0; i < pods.Length(); i++) {
    std::string w = at("pods", i);
    Napi::Object po = object_at(pods, i, w);
    PodPolicySpec pod;
    pod.name = get_string(po, "name", w, false);
    for (const char* dir : {"ingress", "egress"}) {
      Napi::Value dv = po.Get(dir);
      if (absent(dv)) continue;
      int32_t d = int32_t(int_in(dv, w + "." + dir, 0, double(spec.rule_sets.size()) - 1, "not an index into ruleSets"));
      (std::string(dir) == "ingress" ? pod.ingress : pod.egress) = d;
    }
    Napi::Array ips = get_array(po, "ips", w, true);
    for (uint32_t k = 0; k < ips.Length(); k++) pod.ips.push_back(ip_at(ips, k, at(w + ".ips", k)));
    spec.pods.push_back(std::move(pod));
  }
  Napi::Array hosts = get_array(o, "hostAddresses", "policy", false);
  for (uint32_t i = 0; i < hosts.Length(); i++) spec.hosts.push_back(ip_at(hosts, i, at("hostAddresses", i)));
  return spec;
}

Napi::Object policy_stats(Napi::Env env, const Engine& e) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("version", double(e.policy()->version));
  Napi::Object allowed = Napi::Object::New(env);
  Napi::Array denied = Napi::Array::New(env);
  uint32_t n = 0;
  for (const auto& [name, slot] : e.policy_slots()) {
    const PolicyCounter& c = e.policy_counter(slot);
    allowed.Set(name, double(c.allowed.load(std::memory_order_relaxed)));
    for (int dir = 0; dir < 2; dir++) {
      uint64_t v = (dir == 0 ? c.denied_ingress : c.denied_egress).load(std::memory_order_relaxed);
      if (!v) continue;
      Napi::Object d = Napi::Object::New(env);
      d.Set("policy", name);
      d.Set("direction", dir == 0 ? "ingress" : "egress");
      d.Set("flows", double(v));
      denied.Set(n++, d);
    }
  }
  r.Set("allowed", allowed);
  r.Set("denied", denied);
  return r;
}

}  // namespace podnet::binding
