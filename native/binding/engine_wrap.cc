// The N-API binding: the only file that includes napi.h. It converts and nothing else:
// validates everything that comes from JavaScript (a bad spec is a coded error naming the
// field, never a crash) into the engine's plain C++ specs, and engine state into plain JS
// objects. Engine threads never call into JS.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <tuple>

#include "../addr_text.h"
#include "../engine.h"
#include "../sd_notify.h"

using podnet::Addr;

namespace {

Napi::Error coded(Napi::Env env, const std::string& code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

[[noreturn]] void bad(Napi::Env env, const std::string& where, const std::string& why,
                      const char* code = "ENGINE_BAD_SPEC") {
  throw coded(env, code, where + ": " + why);
}

bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

// v as an integer in [lo, hi], else a coded error "where: range".
double int_in(Napi::Value v, const std::string& where, double lo, double hi, const std::string& range,
              const char* code = "ENGINE_BAD_SPEC") {
  if (!v.IsNumber()) bad(v.Env(), where, "not a number", code);
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < lo || d > hi || d != std::floor(d)) bad(v.Env(), where, range, code);
  return d;
}

uint32_t get_uint(Napi::Object o, const char* key, uint32_t def, uint32_t min, uint32_t max, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return def;
  return uint32_t(int_in(v, where + key, min, max,
                         "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]",
                         "ENGINE_BAD_OPTION"));
}

uint16_t port_of(Napi::Value v, const std::string& where) {
  return uint16_t(int_in(v, where + ".port", 1, 65535, "must be an integer in [1, 65535]"));
}

std::string get_string(Napi::Object o, const char* key, const std::string& where, bool required) {
  Napi::Value v = o.Get(key);
  if (absent(v)) {
    if (required) bad(o.Env(), where + "." + key, "required");
    return "";
  }
  if (!v.IsString()) bad(o.Env(), where + "." + key, "not a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Array get_array(Napi::Object o, const char* key, const std::string& where, bool required) {
  Napi::Value v = o.Get(key);
  if (absent(v)) {
    if (required) bad(o.Env(), where + "." + key, "required");
    return Napi::Array::New(o.Env());
  }
  if (!v.IsArray()) bad(o.Env(), where + "." + key, "not an array");
  return v.As<Napi::Array>();
}

// a[i] as an object, else a coded error naming it.
Napi::Object object_at(Napi::Array a, uint32_t i, const std::string& where) {
  Napi::Value v = a.Get(i);
  if (!v.IsObject()) bad(a.Env(), where, "not an object");
  return v.As<Napi::Object>();
}

std::string string_at(Napi::Array a, uint32_t i, const std::string& where) {
  Napi::Value v = a.Get(i);
  if (!v.IsString()) bad(a.Env(), where, "not a string");
  return v.As<Napi::String>().Utf8Value();
}

std::string at(const std::string& where, uint32_t i) { return where + "[" + std::to_string(i) + "]"; }

// CIDR strings into merged range sets by family (sourceRanges, egress-masquerade CIDRs).
template <typename Fail>
void cidr_list(Napi::Array a, std::vector<podnet::IpRange>& v4, std::vector<podnet::IpRange>& v6, Fail&& fail) {
  for (uint32_t i = 0; i < a.Length(); i++) {
    std::string c = a.Get(i).IsString() ? a.Get(i).As<Napi::String>().Utf8Value() : "";
    Addr base{};
    uint8_t fam = 0;
    uint32_t prefix = 0;
    if (!podnet::parse_cidr(c, base, fam, prefix)) fail(i, c);
    podnet::cidr_ranges(fam, base, prefix, {}, 0, fam == 4 ? v4 : v6);
  }
  podnet::merge_ranges(v4, 4);
  podnet::merge_ranges(v6, 6);
}

// Property names of a spec, made once per replace()/apply(): Get("name") builds and
// internalizes the name again on every call, 20 times per spec at 30k specs in a full sync.
struct SpecKeys {
  Napi::String vip, port, protocol, name, affinity, masquerade, shared, no_endpoints, source_ranges, backends, ip,
      terminating;
  explicit SpecKeys(Napi::Env env)
      : vip(Napi::String::New(env, "vip")), port(Napi::String::New(env, "port")),
        protocol(Napi::String::New(env, "protocol")), name(Napi::String::New(env, "name")),
        affinity(Napi::String::New(env, "affinityTimeoutSec")), masquerade(Napi::String::New(env, "masquerade")),
        shared(Napi::String::New(env, "sharedAddress")), no_endpoints(Napi::String::New(env, "noEndpoints")),
        source_ranges(Napi::String::New(env, "sourceRanges")), backends(Napi::String::New(env, "backends")),
        ip(Napi::String::New(env, "ip")), terminating(Napi::String::New(env, "terminating")) {}
};

// A short string property (an address, a protocol) copied into `buf` without a heap string,
// failing with the field's path when absent or not a string. Values longer than the buffer
// are no address or protocol: truncation marks them invalid.
template <typename Where>
void required_string(Napi::Object o, const Napi::String& key, const char* name, char (&buf)[64], Where&& where) {
  Napi::Value v = o.Get(key);
  if (absent(v)) bad(o.Env(), where() + "." + name, "required");
  size_t len = 0;
  if (!v.IsString() || napi_get_value_string_utf8(o.Env(), v, buf, sizeof buf, &len) != napi_ok)
    bad(o.Env(), where() + "." + name, "not a string");
  if (len >= sizeof buf - 1) buf[0] = '?';
}

// An optional string property; false when absent.
bool opt_string(Napi::Object o, const Napi::String& key, const std::string& where, std::string& out) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return false;
  if (!v.IsString()) bad(o.Env(), where, "not a string");
  out = v.As<Napi::String>().Utf8Value();
  return true;
}

podnet::SvcKey parse_key(Napi::Object o, const std::string& where, const SpecKeys& keys) {
  podnet::SvcKey k{};
  char vip[64], proto[64];
  auto w = [&] { return where; };
  required_string(o, keys.vip, "vip", vip, w);
  if (!podnet::parse_ip(vip, k.vip, k.family)) bad(o.Env(), where + ".vip", "not an IP address: '" + std::string(vip) + "'");
  k.port = port_of(o.Get(keys.port), where);
  required_string(o, keys.protocol, "protocol", proto, w);
  if (std::strcmp(proto, "TCP") == 0) k.proto = podnet::kTCP;
  else if (std::strcmp(proto, "UDP") == 0) k.proto = podnet::kUDP;
  else bad(o.Env(), where + ".protocol", "must be TCP or UDP, got '" + std::string(proto) + "'");
  return k;
}

podnet::BackendSpec parse_backend(Napi::Value bv, uint8_t family, const SpecKeys& keys, uint32_t i,
                                  const std::string& where) {
  // The path is only spelled out for an error message.
  auto bw = [&] { return where + ".backends[" + std::to_string(i) + "]"; };
  if (!bv.IsObject()) bad(bv.Env(), bw(), "not an object");
  Napi::Object bo = bv.As<Napi::Object>();
  podnet::BackendSpec b{};
  char ip[64];
  required_string(bo, keys.ip, "ip", ip, bw);
  uint8_t fam = 0;
  if (!podnet::parse_ip(ip, b.addr, fam)) bad(bo.Env(), bw() + ".ip", "not an IP address: '" + std::string(ip) + "'");
  if (fam != family) bad(bo.Env(), bw() + ".ip", "family differs from the VIP's: '" + std::string(ip) + "'");
  b.port = port_of(bo.Get(keys.port), bw());
  b.terminating = bo.Get(keys.terminating).ToBoolean().Value();
  opt_string(bo, keys.name, bw() + ".name", b.name);
  return b;
}

podnet::ServicePortSpec parse_spec(Napi::Value v, const std::string& where, const SpecKeys& keys) {
  if (!v.IsObject()) bad(v.Env(), where, "not an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Env env = o.Env();
  podnet::ServicePortSpec s;
  s.key = parse_key(o, where, keys);
  opt_string(o, keys.name, where + ".name", s.name);
  if (s.name.empty())
    s.name = podnet::format_endpoint(s.key.family, s.key.vip, s.key.port) + (s.key.proto == podnet::kTCP ? "/TCP" : "/UDP");
  Napi::Value aff = o.Get(keys.affinity);
  if (!absent(aff)) s.affinity_timeout_s = uint32_t(int_in(aff, where + ".affinityTimeoutSec", 0, 86400, "must be an integer in [0, 86400]"));
  std::string m;
  if (opt_string(o, keys.masquerade, where + ".masquerade", m)) {
    uint8_t fam = 0;
    if (!podnet::parse_ip(m, s.masquerade_addr, fam)) bad(env, where + ".masquerade", "not an IP address: '" + m + "'");
    if (fam != s.key.family) bad(env, where + ".masquerade", "family differs from the VIP's: '" + m + "'");
    s.masquerade = true;
  }
  s.shared_address = o.Get(keys.shared).ToBoolean().Value();
  Napi::Value ne = o.Get(keys.no_endpoints);
  if (!absent(ne)) {
    std::string v = ne.IsString() ? ne.As<Napi::String>().Utf8Value() : "";
    if (v != "reject" && v != "drop") bad(env, where + ".noEndpoints", "must be 'reject' or 'drop'");
    s.drop_without_backends = v == "drop";
  }
  Napi::Value sr = o.Get(keys.source_ranges);
  if (!absent(sr)) {
    if (!sr.IsArray()) bad(env, where + ".sourceRanges", "not an array");
    cidr_list(sr.As<Napi::Array>(), s.source4, s.source6, [&](uint32_t i, const std::string& c) {
      bad(env, at(where + ".sourceRanges", i), "not a CIDR: '" + c + "'");
    });
  }
  Napi::Value bs = o.Get(keys.backends);
  if (!bs.IsArray()) bad(env, where + ".backends", "not an array");
  Napi::Array arr = bs.As<Napi::Array>();
  uint32_t n = arr.Length();
  s.backends.reserve(n);
  for (uint32_t i = 0; i < n; i++) s.backends.push_back(parse_backend(arr.Get(i), s.key.family, keys, i, where));
  return s;
}

std::vector<podnet::ServicePortSpec> parse_specs(Napi::Value v, const std::string& where) {
  std::vector<podnet::ServicePortSpec> out;
  if (absent(v)) return out;
  if (!v.IsArray()) bad(v.Env(), where, "not an array");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  out.reserve(n);
  SpecKeys keys(v.Env());
  for (uint32_t i = 0; i < n; i++) {
    // One scope per spec: a full sync would otherwise pile up ~20 handles × 30k specs.
    Napi::HandleScope scope(v.Env());
    out.push_back(parse_spec(a.Get(i), at(where, i), keys));
  }
  return out;
}

// One rule of a PolicyTables rule set (src/engine/types.ts).
podnet::PolicyRuleSpec parse_rule(Napi::Object ro, const std::string& rw) {
  Napi::Env env = ro.Env();
  podnet::PolicyRuleSpec rule;
  rule.policy = get_string(ro, "policy", rw, true);
  Napi::Array pa = get_array(ro, "ports", rw, false);
  for (uint32_t k = 0; k < pa.Length(); k++) {
    std::string pw = at(rw + ".ports", k);
    Napi::Object po = object_at(pa, k, pw);
    std::string proto = get_string(po, "protocol", pw, true);
    podnet::PolicyPortSpec port{};
    port.proto = proto == "TCP" ? podnet::kTCP : proto == "UDP" ? podnet::kUDP : proto == "SCTP" ? 132 : 0;
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
    podnet::PolicyPeerSpec peer{};
    if (!podnet::parse_cidr(cidr, peer.base, peer.family, peer.prefix)) bad(env, pw + ".cidr", "not a CIDR: '" + cidr + "'");
    Napi::Array ex = get_array(po, "except", pw, false);
    for (uint32_t x = 0; x < ex.Length(); x++) {
      std::string xw = at(pw + ".except", x);
      std::string xs = string_at(ex, x, xw);
      Addr xa{};
      uint8_t xf = 0;
      uint32_t xp = 0;
      if (!podnet::parse_cidr(xs, xa, xf, xp) || xf != peer.family) bad(env, xw, "not a CIDR of the block's family: '" + xs + "'");
      peer.except.emplace_back(xa, xp);
    }
    rule.peers.push_back(std::move(peer));
  }
  return rule;
}

podnet::VipKey ip_at(Napi::Array a, uint32_t i, const std::string& w) {
  std::string s = string_at(a, i, w);
  podnet::VipKey key{};
  if (!podnet::parse_ip(s, key.addr, key.family)) bad(a.Env(), w, "not an IP address: '" + s + "'");
  return key;
}

// PolicyTables (src/engine/types.ts) -> PolicySpec, compiled by policy_build.cc.
podnet::PolicySpec parse_policy(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) bad(env, "policy", "not an object");
  Napi::Object o = v.As<Napi::Object>();
  podnet::PolicySpec spec;
  Napi::Array sets = get_array(o, "ruleSets", "policy", true);
  for (uint32_t i = 0; i < sets.Length(); i++) {
    std::string w = at("ruleSets", i);
    Napi::Object so = object_at(sets, i, w);
    podnet::RuleSetSpec rs;
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
    podnet::PodPolicySpec pod;
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

void parse_masq(Napi::Env env, Napi::Object o, podnet::MasqConfig& m) {
  auto opt = [&](const std::string& k) { return coded(env, "ENGINE_BAD_OPTION", "egressMasquerade." + k); };
  auto cidrs = [&](const char* key, std::vector<podnet::IpRange>& v4, std::vector<podnet::IpRange>& v6) {
    Napi::Value v = o.Get(key);
    if (absent(v)) return;
    if (!v.IsArray()) throw opt(std::string(key) + ": not an array");
    cidr_list(v.As<Napi::Array>(), v4, v6, [&](uint32_t i, const std::string& s) {
      throw opt(std::string(key) + "[" + std::to_string(i) + "]: not a CIDR: '" + s + "'");
    });
  };
  cidrs("podCIDRs", m.pods4, m.pods6);
  cidrs("exemptCIDRs", m.exempt4, m.exempt6);
  for (auto [key, want, addr, on] : {std::tuple<const char*, uint8_t, Addr*, bool*>{"sourceIPv4", 4, &m.src4, &m.v4},
                                     std::tuple<const char*, uint8_t, Addr*, bool*>{"sourceIPv6", 6, &m.src6, &m.v6}}) {
    Napi::Value v = o.Get(key);
    if (absent(v)) continue;
    uint8_t fam = 0;
    if (!v.IsString() || !podnet::parse_ip(v.As<Napi::String>().Utf8Value(), *addr, fam) || fam != want)
      throw opt(std::string(key) + ": not an IPv" + (want == 4 ? "4" : "6") + " address");
    *on = true;
  }
  m.port_lo = uint16_t(get_uint(o, "portMin", m.port_lo, 1024, 65535, "egressMasquerade."));
  m.port_hi = uint16_t(get_uint(o, "portMax", m.port_hi, 1024, 65535, "egressMasquerade."));
  if (m.port_hi < m.port_lo) throw opt("portMax: below portMin");
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod("apply", &EngineWrap::Apply), InstanceMethod("replace", &EngineWrap::Replace),
                        InstanceMethod("attachTun", &EngineWrap::AttachTun),
                        InstanceMethod("detachTun", &EngineWrap::DetachTun), InstanceMethod("stats", &EngineWrap::Stats),
                        InstanceMethod("flows", &EngineWrap::Flows), InstanceMethod("process", &EngineWrap::Process), InstanceMethod("trace", &EngineWrap::Trace),
                        InstanceMethod("setPolicy", &EngineWrap::SetPolicy),
                        InstanceMethod("policyStats", &EngineWrap::PolicyStats),
                        InstanceMethod("close", &EngineWrap::Close)});
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    podnet::EngineConfig c;
    c.flow_capacity = get_uint(o, "flowCapacity", c.flow_capacity, 16, 1u << 26, "");
    c.maglev_size = get_uint(o, "maglevSize", c.maglev_size, 3, 1000003, "");
    c.max_service_ports = get_uint(o, "maxServicePorts", c.max_service_ports, 1, 1u << 22, "");
    auto hairpin = [&](const char* key, uint8_t want, podnet::Addr& out) {
      Napi::Value v = o.Get(key);
      if (absent(v)) return;
      uint8_t fam = 0;
      if (!v.IsString() || !podnet::parse_ip(v.As<Napi::String>().Utf8Value(), out, fam) || fam != want)
        throw coded(env, "ENGINE_BAD_OPTION", std::string(key) + ": not an IPv" + (want == 4 ? "4" : "6") + " address");
    };
    hairpin("hairpinIPv4", 4, c.hairpin4);
    hairpin("hairpinIPv6", 6, c.hairpin6);
    Napi::Value mv = o.Get("egressMasquerade");
    if (mv.IsObject()) parse_masq(env, mv.As<Napi::Object>(), c.masq);
    else if (!absent(mv)) throw coded(env, "ENGINE_BAD_OPTION", "egressMasquerade: not an object");
    Napi::Value sf = o.Get("stateFile");
    if (sf.IsString()) c.state_file = sf.As<Napi::String>().Utf8Value();
    else if (!absent(sf)) throw coded(env, "ENGINE_BAD_OPTION", "stateFile: not a string");
    Napi::Value tv = o.Get("timeouts");
    if (tv.IsObject()) {
      Napi::Object t = tv.As<Napi::Object>();
      using T = podnet::Timeouts;
      static const std::pair<const char*, uint32_t T::*> kSec[] = {
          {"tcpSynSec", &T::tcp_syn_ms}, {"tcpEstablishedSec", &T::tcp_established_ms}, {"tcpFinSec", &T::tcp_fin_ms},
          {"tcpTimeWaitSec", &T::tcp_time_wait_ms}, {"tcpCloseSec", &T::tcp_close_ms}, {"udpSec", &T::udp_ms},
          {"udpStreamSec", &T::udp_stream_ms}, {"icmpSec", &T::icmp_ms}};
      for (auto [k, field] : kSec) c.timeouts.*field = get_uint(t, k, c.timeouts.*field / 1000, 1, 30 * 86400, "timeouts.") * 1000;
    }
    try {
      engine_ = std::make_unique<podnet::Engine>(c);
    } catch (const podnet::EngineError& e) {
      throw coded(env, e.code, e.what());
    } catch (const std::bad_alloc&) {
      throw coded(env, "ENGINE_NO_MEMORY", "cannot allocate the engine tables");
    } catch (const std::exception& e) {
      throw coded(env, "ENGINE_STATE_FILE", e.what());
    }
  }

 private:
  podnet::Engine& engine(Napi::Env env) {
    if (!engine_) throw coded(env, "ENGINE_CLOSED", "the engine is closed");
    return *engine_;
  }

  Napi::Value ApplyResult(Napi::Env env, const podnet::ApplyResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", double(r.version));
    o.Set("servicePorts", double(r.service_ports));
    o.Set("flowsPurged", double(r.flows_purged));
    return o;
  }

  Napi::Value Apply(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) bad(env, "delta", "not an object");
    Napi::Object d = info[0].As<Napi::Object>();
    auto up = parse_specs(d.Get("upsert"), "upsert");
    std::vector<podnet::SvcKey> rm;
    Napi::Value rv = d.Get("remove");
    if (!absent(rv)) {
      if (!rv.IsArray()) bad(env, "remove", "not an array");
      Napi::Array a = rv.As<Napi::Array>();
      SpecKeys keys(env);
      for (uint32_t i = 0; i < a.Length(); i++) rm.push_back(parse_key(object_at(a, i, at("remove", i)), at("remove", i), keys));
    }
    return Run(env, up, rm, false);
  }

  Napi::Value Replace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) bad(env, "specs", "required");
    return Run(env, parse_specs(info[0], "specs"), {}, true);
  }

  Napi::Value Run(Napi::Env env, const std::vector<podnet::ServicePortSpec>& up, const std::vector<podnet::SvcKey>& rm,
                  bool all) {
    try {
      return ApplyResult(env, engine(env).apply(up, rm, all));
    } catch (const podnet::EngineError& e) {
      throw coded(env, e.code, e.what());
    }
  }

  Napi::Value AttachTun(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw coded(env, "ENGINE_BAD_OPTION", "attachTun: options required");
    Napi::Object o = info[0].As<Napi::Object>();
    podnet::TunConfig c;
    Napi::Value n = o.Get("name");
    if (!n.IsString()) throw coded(env, "ENGINE_BAD_OPTION", "name: required string");
    c.name = n.As<Napi::String>().Utf8Value();
    c.queues = get_uint(o, "queues", 1, 1, 64, "");
    c.batch = get_uint(o, "batch", 64, 1, 4096, "");
    c.busy_poll_us = get_uint(o, "busyPollUs", 0, 0, 10000, "");
    c.persist = o.Get("persist").ToBoolean().Value();
    try {
      engine(env).attach_tun(c);
    } catch (const podnet::EngineError& e) {
      throw coded(env, e.code, e.what());
    }
    const podnet::TunDevice* t = engine_->tun();
    Napi::Object r = Napi::Object::New(env);
    r.Set("name", t->name());
    r.Set("ifindex", t->ifindex());
    r.Set("queues", double(t->fds().size()));
    Napi::Array off = Napi::Array::New(env);
    for (size_t i = 0; i < t->offloads().size(); i++) off.Set(uint32_t(i), t->offloads()[i]);
    r.Set("offloads", off);
    return r;
  }

  Napi::Value DetachTun(const Napi::CallbackInfo& info) {
    engine(info.Env()).detach_tun();
    return info.Env().Undefined();
  }

  static Napi::Object Counters(Napi::Env env, const podnet::Counter& c, Napi::Object o) {
    o.Set("packets", double(c.packets.load(std::memory_order_relaxed)));
    o.Set("bytes", double(c.bytes.load(std::memory_order_relaxed)));
    o.Set("flows", double(c.flows.load(std::memory_order_relaxed)));
    (void)env;
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    podnet::Engine& e = engine(env);
    auto t = e.table();
    Napi::Object s = Napi::Object::New(env);
    s.Set("version", double(t->version));
    s.Set("restoredFlows", e.flows().restored());
    podnet::FlowTableStats fs = e.flows().stats();
    Napi::Object f = Napi::Object::New(env);
    f.Set("active", double(fs.active));
    f.Set("capacity", double(fs.capacity));
    f.Set("created", double(fs.created));
    f.Set("expired", double(fs.expired));
    f.Set("evicted", double(fs.evicted));
    s.Set("flows", f);
    Napi::Object drops = Napi::Object::New(env);
    for (int i = 0; i < int(podnet::Drop::count); i++)
      drops.Set(podnet::drop_name(podnet::Drop(i)), double(e.counters().drops[i].load(std::memory_order_relaxed)));
    s.Set("drops", drops);
    Napi::Object replies = Napi::Object::New(env);
    for (int i = 0; i < int(podnet::Reply::count); i++)
      replies.Set(podnet::reply_name(podnet::Reply(i)), double(e.counters().replies[i].load(std::memory_order_relaxed)));
    s.Set("replies", replies);
    s.Set("passthrough", double(e.counters().passthrough.load(std::memory_order_relaxed)));
    Napi::Array svcs = Napi::Array::New(env);
    uint32_t i = 0;
    t->ports.for_each([&](const podnet::SvcKey& k, const std::shared_ptr<const podnet::ServicePort>& sp) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("vip", podnet::format_ip(k.family, k.vip));
      o.Set("port", k.port);
      o.Set("protocol", k.proto == podnet::kTCP ? "TCP" : "UDP");
      o.Set("name", sp->name);
      Counters(env, e.svc_counter(sp->slot), o);
      Napi::Array bs = Napi::Array::New(env);
      for (uint32_t j = 0; j < sp->backends.size(); j++) {
        const podnet::Backend& b = sp->backends[j];
        Napi::Object bo = Napi::Object::New(env);
        bo.Set("ip", podnet::format_ip(k.family, b.addr));
        bo.Set("port", b.port);
        bo.Set("terminating", b.terminating);
        if (!b.name.empty()) bo.Set("name", b.name);
        Counters(env, e.be_counter(b.slot), bo);
        bs.Set(j, bo);
      }
      o.Set("backends", bs);
      svcs.Set(i++, o);
    });
    s.Set("services", svcs);
    Napi::Array qs = Napi::Array::New(env);
    auto qc = e.queue_counters();
    for (uint32_t q = 0; q < qc.size(); q++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("queue", q);
      using Q = podnet::QueueCounters;
      static const std::pair<const char*, std::atomic<uint64_t> Q::*> kQueue[] = {
          {"packetsIn", &Q::packets_in}, {"packetsOut", &Q::packets_out}, {"bytesIn", &Q::bytes_in},
          {"wakeups", &Q::wakeups}, {"gsoPackets", &Q::gso_packets}, {"readErrors", &Q::read_errors},
          {"writeErrors", &Q::write_errors}, {"busyPolled", &Q::busy_polled}};
      for (auto [k, field] : kQueue) o.Set(k, double((qc[q]->*field).load()));
      qs.Set(q, o);
    }
    s.Set("queues", qs);
    return s;
  }

  Napi::Value Flows(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    podnet::Engine& e = engine(env);
    uint32_t limit = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 1000;
    uint64_t now = podnet::monotonic_ms();
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    e.flows().for_each([&](const podnet::FlowKey& k, const podnet::Translation& x, uint8_t state, uint64_t last,
                           uint8_t proto, bool single) {
      if (n >= limit || single) return;
      Napi::Object o = Napi::Object::New(env);
      o.Set("protocol", proto == podnet::kTCP ? "TCP" : proto == podnet::kUDP ? "UDP" : "ICMP");
      o.Set("client", podnet::format_endpoint(k.family, k.src, k.sport));
      o.Set("vip", podnet::format_endpoint(k.family, k.dst, k.dport));
      o.Set("backend", podnet::format_endpoint(k.family, x.dst, x.dport));
      if (x.rewrite & podnet::kRewriteSrc) o.Set("snat", podnet::format_endpoint(k.family, x.src, x.sport));
      o.Set("state", podnet::flow_state_name(proto, state));
      o.Set("idleMs", double(now > last ? now - last : 0));
      out.Set(n++, o);
    });
    return out;
  }

  Napi::Value Process(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    podnet::Engine& e = engine(env);
    if (info.Length() < 1 || !info[0].IsBuffer()) throw coded(env, "ENGINE_BAD_ARGUMENT", "process: packet must be a Buffer");
    auto in = info[0].As<Napi::Buffer<uint8_t>>();
    bool vnet = false;
    uint64_t now = podnet::monotonic_ms();
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      vnet = o.Get("vnetHdr").ToBoolean().Value();
      Napi::Value n = o.Get("nowMs");
      if (n.IsNumber()) now = uint64_t(n.As<Napi::Number>().Int64Value());
    }
    // Work on a private copy: the pipeline rewrites in place.
    std::vector<uint8_t> buf(in.Data(), in.Data() + in.Length());
    podnet::VnetHdr vh{};
    size_t off = 0;
    if (vnet) {
      if (buf.size() < sizeof vh) throw coded(env, "ENGINE_BAD_ARGUMENT", "process: shorter than a virtio_net_hdr");
      std::memcpy(&vh, buf.data(), sizeof vh);
      off = sizeof vh;
    }
    podnet::Result r = e.process(buf.data() + off, buf.size() - off, vnet ? &vh : nullptr, now);
    Napi::Object o = Napi::Object::New(env);
    o.Set("verdict", r.verdict == podnet::Verdict::kForward ? "forward" : r.verdict == podnet::Verdict::kReply ? "reply" : "drop");
    if (r.reason != podnet::Drop::none) o.Set("reason", podnet::drop_name(r.reason));
    if (r.verdict != podnet::Verdict::kDrop) {
      auto pkt = Napi::Buffer<uint8_t>::New(env, r.out_len + off);
      if (vnet) std::memcpy(pkt.Data(), &vh, sizeof vh);
      std::memcpy(pkt.Data() + off, r.out, r.out_len);
      o.Set("packet", pkt);
    }
    if (r.out2_len) o.Set("extra", Napi::Buffer<uint8_t>::Copy(env, r.out2, r.out2_len));
    return o;
  }

  // trace({from, to, port, protocol, sourcePort?}): what the engine would do with the first
  // packet of such a connection (a TCP SYN or a UDP datagram), without creating anything.
  Napi::Value Trace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    podnet::Engine& e = engine(env);
    if (info.Length() < 1 || !info[0].IsObject()) bad(env, "trace", "options required");
    Napi::Object o = info[0].As<Napi::Object>();
    podnet::Engine::TraceQuery q{};
    uint8_t fd = 0;
    std::string from = get_string(o, "from", "trace", true), to = get_string(o, "to", "trace", true);
    if (!podnet::parse_ip(from, q.src, q.family)) bad(env, "trace.from", "not an IP address: '" + from + "'");
    if (!podnet::parse_ip(to, q.dst, fd)) bad(env, "trace.to", "not an IP address: '" + to + "'");
    if (q.family != fd) bad(env, "trace.to", "family differs from trace.from");
    q.dport = port_of(o.Get("port"), "trace");
    std::string proto = get_string(o, "protocol", "trace", true);
    q.proto = proto == "TCP" ? podnet::kTCP : proto == "UDP" ? podnet::kUDP : 0;
    if (!q.proto) bad(env, "trace.protocol", "must be TCP or UDP, got '" + proto + "'");
    q.sport = uint16_t(get_uint(o, "sourcePort", 40000, 1, 65535, "trace."));
    podnet::TraceInfo ti;
    std::shared_ptr<const podnet::ServiceTable> hold;
    std::shared_ptr<const podnet::PolicyTable> pol;
    e.trace(q, ti, hold, pol);
    Napi::Object r = Napi::Object::New(env);
    const char* verdict = ti.verdict == podnet::Verdict::kDrop ? "drop"
                        : ti.verdict == podnet::Verdict::kReply ? "reject" : "forward";
    if (ti.verdict == podnet::Verdict::kReply && ti.reason == podnet::Drop::none) verdict = "reply";
    r.Set("verdict", verdict);
    if (ti.reason != podnet::Drop::none) r.Set("reason", podnet::drop_name(ti.reason));
    r.Set("service", ti.service);
    r.Set("existingFlow", ti.existing_flow);
    if (ti.svc) r.Set("servicePort", ti.svc->name);
    if (ti.x.rewrite & podnet::kRewriteDst) r.Set("backend", podnet::format_endpoint(q.family, ti.x.dst, ti.x.dport));
    if (ti.x.rewrite & podnet::kRewriteSrc) r.Set("snat", podnet::format_endpoint(q.family, ti.x.src, ti.x.sport));
    if (!ti.policy.allow && ti.policy.deny_set >= 0 && size_t(ti.policy.deny_set) < pol->sets.size()) {
      Napi::Array by = Napi::Array::New(env);
      uint32_t k = 0;
      for (uint32_t p : pol->sets[size_t(ti.policy.deny_set)].isolated_by) by.Set(k++, pol->policies[p]);
      r.Set("deniedBy", by);
    } else if (ti.policy.allow_policy < pol->policies.size()) {
      r.Set("allowedBy", pol->policies[ti.policy.allow_policy]);
    }
    return r;
  }

  Napi::Value SetPolicy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    podnet::Engine& e = engine(env);
    if (info.Length() < 1) bad(env, "policy", "required");
    auto [version, cut] = e.set_policy(podnet::build_policy_table(parse_policy(env, info[0])));
    Napi::Object r = Napi::Object::New(env);
    r.Set("version", double(version));
    r.Set("flowsCut", double(cut));
    return r;
  }

  Napi::Value PolicyStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    podnet::Engine& e = engine(env);
    Napi::Object r = Napi::Object::New(env);
    r.Set("version", double(e.policy()->version));
    Napi::Object allowed = Napi::Object::New(env);
    Napi::Array denied = Napi::Array::New(env);
    uint32_t n = 0;
    for (const auto& [name, slot] : e.policy_slots()) {
      const podnet::PolicyCounter& c = e.policy_counter(slot);
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

  Napi::Value Close(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<podnet::Engine> engine_;
};

// sdNotify("READY=1") -> 0 sent, 1 not under systemd; throws ENGINE_NOTIFY on a socket error.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw coded(env, "ENGINE_BAD_ARGUMENT", "sdNotify: message string required");
  int r = podnet::sd_notify_send(info[0].As<Napi::String>().Utf8Value());
  if (r < 0) throw coded(env, "ENGINE_NOTIFY", std::string("sd_notify: ") + std::strerror(-r));
  return Napi::Number::New(env, r);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
  exports.Set("version", Napi::String::New(env, "0.1.0"));
  return exports;
}

}  // namespace

NODE_API_MODULE(podnet_engine, Init)
