// The N-API binding: the only file that includes napi.h. Validates everything that comes
// from JavaScript (a bad spec is a coded error naming the field, never a crash) and
// converts engine state into plain JS objects. Engine threads never call into JS.
#include <arpa/inet.h>
#include <napi.h>

#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>

#include "engine.h"
#include "sd_notify.h"

using podnet::Addr;

namespace {

bool parse_cidr(const std::string& s, Addr& a, uint8_t& family, uint32_t& prefix);

// Sorts and merges range lists (the policy compiler's merge, reused).
void merge_ranges(std::vector<podnet::IpRange>& v4, std::vector<podnet::IpRange>& v6) {
  podnet::RuleSet rs;
  podnet::PortClass pc{};
  pc.v4 = std::move(v4);
  pc.v6 = std::move(v6);
  rs.classes.push_back(std::move(pc));
  podnet::finish_rule_set(rs);
  v4 = std::move(rs.classes[0].v4);
  v6 = std::move(rs.classes[0].v6);
}

Napi::Error coded(Napi::Env env, const std::string& code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

[[noreturn]] void bad(Napi::Env env, const std::string& where, const std::string& why) {
  throw coded(env, "ENGINE_BAD_SPEC", where + ": " + why);
}

bool parse_ip(const char* s, Addr& a, uint8_t& family) {
  a = Addr{};
  if (inet_pton(AF_INET, s, a.b) == 1) { family = 4; return true; }
  if (inet_pton(AF_INET6, s, a.b) == 1) { family = 6; return true; }
  return false;
}

bool parse_ip(const std::string& s, Addr& a, uint8_t& family) { return parse_ip(s.c_str(), a, family); }

std::string format_ip(uint8_t family, const Addr& a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == 4 ? AF_INET : AF_INET6, a.b, buf, sizeof buf);
  return buf;
}

std::string format_endpoint(uint8_t family, const Addr& a, uint16_t port) {
  return family == 4 ? format_ip(family, a) + ":" + std::to_string(port)
                     : "[" + format_ip(family, a) + "]:" + std::to_string(port);
}

uint32_t get_uint(Napi::Object o, const char* key, uint32_t def, uint32_t min, uint32_t max, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw coded(o.Env(), "ENGINE_BAD_OPTION", where + key + ": not a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != double(uint64_t(d)) || d < min || d > max)
    throw coded(o.Env(), "ENGINE_BAD_OPTION",
                where + key + ": must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return uint32_t(d);
}

std::string get_string(Napi::Object o, const char* key, const std::string& where, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) bad(o.Env(), where + "." + key, "required");
    return "";
  }
  if (!v.IsString()) bad(o.Env(), where + "." + key, "not a string");
  return v.As<Napi::String>().Utf8Value();
}

uint16_t get_port(Napi::Object o, const std::string& where) {
  Napi::Value v = o.Get("port");
  if (!v.IsNumber()) bad(o.Env(), where + ".port", "not a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != double(int64_t(d)) || d < 1 || d > 65535) bad(o.Env(), where + ".port", "must be an integer in [1, 65535]");
  return uint16_t(d);
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

// o[key] with a cached name, or o.Get(name) without the cache.
Napi::Value prop(Napi::Object o, const SpecKeys* k, Napi::String SpecKeys::*key, const char* name) {
  return k ? o.Get(k->*key) : o.Get(name);
}

// A short string property (an address, a protocol) copied into `buf` without a heap string:
// 1, or 0 when absent, -1 when not a string. Values longer than the buffer are no address or
// protocol: truncation marks them invalid.
int short_string(Napi::Object o, const SpecKeys* k, Napi::String SpecKeys::*key, const char* name, char (&buf)[64]) {
  Napi::Value v = prop(o, k, key, name);
  if (v.IsUndefined() || v.IsNull()) return 0;
  size_t len = 0;
  if (!v.IsString() || napi_get_value_string_utf8(o.Env(), v, buf, sizeof buf, &len) != napi_ok) return -1;
  if (len >= sizeof buf - 1) buf[0] = '?';
  return 1;
}

// short_string for a required field, failing with the field's path.
template <typename Where>
void required_string(Napi::Object o, const SpecKeys* k, Napi::String SpecKeys::*key, const char* name, char (&buf)[64],
                     Where&& where) {
  int r = short_string(o, k, key, name, buf);
  if (r == 0) bad(o.Env(), where() + "." + name, "required");
  if (r < 0) bad(o.Env(), where() + "." + name, "not a string");
}

uint16_t get_port(Napi::Object o, const SpecKeys* k, const std::string& where) {
  if (!k) return get_port(o, where);
  Napi::Value v = o.Get(k->port);
  if (!v.IsNumber()) bad(o.Env(), where + ".port", "not a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != double(int64_t(d)) || d < 1 || d > 65535) bad(o.Env(), where + ".port", "must be an integer in [1, 65535]");
  return uint16_t(d);
}

podnet::SvcKey parse_key(Napi::Object o, const std::string& where, const SpecKeys* keys = nullptr) {
  podnet::SvcKey k{};
  char vip[64], proto[64];
  auto w = [&] { return where; };
  required_string(o, keys, &SpecKeys::vip, "vip", vip, w);
  if (!parse_ip(vip, k.vip, k.family)) bad(o.Env(), where + ".vip", "not an IP address: '" + std::string(vip) + "'");
  k.port = get_port(o, keys, where);
  required_string(o, keys, &SpecKeys::protocol, "protocol", proto, w);
  if (std::strcmp(proto, "TCP") == 0) k.proto = podnet::kTCP;
  else if (std::strcmp(proto, "UDP") == 0) k.proto = podnet::kUDP;
  else bad(o.Env(), where + ".protocol", "must be TCP or UDP, got '" + std::string(proto) + "'");
  return k;
}

podnet::ServicePortSpec parse_spec(Napi::Value v, const std::string& where, const SpecKeys* keys = nullptr) {
  if (!v.IsObject()) bad(v.Env(), where, "not an object");
  Napi::Object o = v.As<Napi::Object>();
  podnet::ServicePortSpec s;
  s.key = parse_key(o, where, keys);
  Napi::Value nm = prop(o, keys, &SpecKeys::name, "name");
  if (!nm.IsUndefined() && !nm.IsNull()) {
    if (!nm.IsString()) bad(o.Env(), where + ".name", "not a string");
    s.name = nm.As<Napi::String>().Utf8Value();
  }
  if (s.name.empty()) s.name = format_endpoint(s.key.family, s.key.vip, s.key.port) + (s.key.proto == podnet::kTCP ? "/TCP" : "/UDP");
  Napi::Value aff = prop(o, keys, &SpecKeys::affinity, "affinityTimeoutSec");
  if (!aff.IsUndefined() && !aff.IsNull()) {
    if (!aff.IsNumber()) bad(o.Env(), where + ".affinityTimeoutSec", "not a number");
    double d = aff.As<Napi::Number>().DoubleValue();
    if (d != double(int64_t(d)) || d < 0 || d > 86400) bad(o.Env(), where + ".affinityTimeoutSec", "must be an integer in [0, 86400]");
    s.affinity_timeout_s = uint32_t(d);
  }
  Napi::Value mq = prop(o, keys, &SpecKeys::masquerade, "masquerade");
  if (!mq.IsUndefined() && !mq.IsNull()) {
    if (!mq.IsString()) bad(o.Env(), where + ".masquerade", "not a string");
    std::string m = mq.As<Napi::String>().Utf8Value();
    uint8_t fam = 0;
    if (!parse_ip(m, s.masquerade_addr, fam)) bad(o.Env(), where + ".masquerade", "not an IP address: '" + m + "'");
    if (fam != s.key.family) bad(o.Env(), where + ".masquerade", "family differs from the VIP's: '" + m + "'");
    s.masquerade = true;
  }
  s.shared_address = prop(o, keys, &SpecKeys::shared, "sharedAddress").ToBoolean().Value();
  Napi::Value ne = prop(o, keys, &SpecKeys::no_endpoints, "noEndpoints");
  if (!ne.IsUndefined() && !ne.IsNull()) {
    std::string v = ne.IsString() ? ne.As<Napi::String>().Utf8Value() : "";
    if (v != "reject" && v != "drop") bad(o.Env(), where + ".noEndpoints", "must be 'reject' or 'drop'");
    s.drop_without_backends = v == "drop";
  }
  Napi::Value sr = prop(o, keys, &SpecKeys::source_ranges, "sourceRanges");
  if (!sr.IsUndefined() && !sr.IsNull()) {
    if (!sr.IsArray()) bad(o.Env(), where + ".sourceRanges", "not an array");
    Napi::Array a = sr.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      std::string c = a.Get(i).IsString() ? a.Get(i).As<Napi::String>().Utf8Value() : "";
      Addr base{};
      uint8_t fam = 0;
      uint32_t prefix = 0;
      if (!parse_cidr(c, base, fam, prefix))
        bad(o.Env(), where + ".sourceRanges[" + std::to_string(i) + "]", "not a CIDR: '" + c + "'");
      podnet::cidr_ranges(fam, base, prefix, {}, 0, fam == 4 ? s.source4 : s.source6);
    }
    merge_ranges(s.source4, s.source6);
  }
  Napi::Value bs = prop(o, keys, &SpecKeys::backends, "backends");
  if (!bs.IsArray()) bad(o.Env(), where + ".backends", "not an array");
  Napi::Array arr = bs.As<Napi::Array>();
  uint32_t n = arr.Length();
  s.backends.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    // The path is only spelled out for an error message.
    auto bw = [&] { return where + ".backends[" + std::to_string(i) + "]"; };
    Napi::Value bv = arr.Get(i);
    if (!bv.IsObject()) bad(o.Env(), bw(), "not an object");
    Napi::Object bo = bv.As<Napi::Object>();
    podnet::BackendSpec b{};
    char ip[64];
    required_string(bo, keys, &SpecKeys::ip, "ip", ip, bw);
    uint8_t fam = 0;
    if (!parse_ip(ip, b.addr, fam)) bad(o.Env(), bw() + ".ip", "not an IP address: '" + std::string(ip) + "'");
    if (fam != s.key.family) bad(o.Env(), bw() + ".ip", "family differs from the VIP's: '" + std::string(ip) + "'");
    Napi::Value pv = prop(bo, keys, &SpecKeys::port, "port");
    if (!pv.IsNumber()) bad(o.Env(), bw() + ".port", "not a number");
    double pd = pv.As<Napi::Number>().DoubleValue();
    if (pd != double(int64_t(pd)) || pd < 1 || pd > 65535) bad(o.Env(), bw() + ".port", "must be an integer in [1, 65535]");
    b.port = uint16_t(pd);
    b.terminating = prop(bo, keys, &SpecKeys::terminating, "terminating").ToBoolean().Value();
    Napi::Value bn = prop(bo, keys, &SpecKeys::name, "name");
    if (!bn.IsUndefined() && !bn.IsNull()) {
      if (!bn.IsString()) bad(o.Env(), bw() + ".name", "not a string");
      b.name = bn.As<Napi::String>().Utf8Value();
    }
    s.backends.push_back(std::move(b));
  }
  return s;
}

std::vector<podnet::ServicePortSpec> parse_specs(Napi::Value v, const std::string& where) {
  std::vector<podnet::ServicePortSpec> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) bad(v.Env(), where, "not an array");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  out.reserve(n);
  SpecKeys keys(v.Env());
  for (uint32_t i = 0; i < n; i++) {
    // One scope per spec: a full sync would otherwise pile up ~20 handles × 30k specs.
    Napi::HandleScope scope(v.Env());
    out.push_back(parse_spec(a.Get(i), where + "[" + std::to_string(i) + "]", &keys));
  }
  return out;
}

bool parse_cidr(const std::string& s, Addr& a, uint8_t& family, uint32_t& prefix) {
  size_t slash = s.find('/');
  std::string ip = slash == std::string::npos ? s : s.substr(0, slash);
  if (!parse_ip(ip, a, family)) return false;
  uint32_t max = family == 4 ? 32 : 128;
  if (slash == std::string::npos) {
    prefix = max;
    return true;
  }
  std::string p = s.substr(slash + 1);
  if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  prefix = uint32_t(std::stoul(p));
  return prefix <= max;
}

Napi::Array get_array(Napi::Object o, const char* key, const std::string& where, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) bad(o.Env(), where + "." + key, "required");
    return Napi::Array::New(o.Env());
  }
  if (!v.IsArray()) bad(o.Env(), where + "." + key, "not an array");
  return v.As<Napi::Array>();
}

// PolicyTables (src/engine/types.ts) -> the compiled native table (policy.h).
podnet::PolicyTable parse_policy(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) bad(env, "policy", "not an object");
  Napi::Object o = v.As<Napi::Object>();
  podnet::PolicyTable t;
  std::unordered_map<std::string, uint32_t> names;
  auto policy_index = [&](const std::string& n) {
    auto [it, fresh] = names.emplace(n, uint32_t(t.policies.size()));
    if (fresh) t.policies.push_back(n);
    return it->second;
  };
  Napi::Array sets = get_array(o, "ruleSets", "policy", true);
  for (uint32_t i = 0; i < sets.Length(); i++) {
    std::string w = "ruleSets[" + std::to_string(i) + "]";
    if (!sets.Get(i).IsObject()) bad(env, w, "not an object");
    Napi::Object so = sets.Get(i).As<Napi::Object>();
    podnet::RuleSet rs;
    Napi::Array iso = get_array(so, "isolatedBy", w, false);
    for (uint32_t k = 0; k < iso.Length(); k++) {
      if (!iso.Get(k).IsString()) bad(env, w + ".isolatedBy[" + std::to_string(k) + "]", "not a string");
      rs.isolated_by.push_back(policy_index(iso.Get(k).As<Napi::String>().Utf8Value()));
    }
    std::map<std::tuple<uint8_t, uint16_t, uint16_t>, size_t> classes;
    Napi::Array rules = get_array(so, "rules", w, true);
    for (uint32_t r = 0; r < rules.Length(); r++) {
      std::string rw = w + ".rules[" + std::to_string(r) + "]";
      if (!rules.Get(r).IsObject()) bad(env, rw, "not an object");
      Napi::Object ro = rules.Get(r).As<Napi::Object>();
      uint32_t pol = policy_index(get_string(ro, "policy", rw, true));
      std::vector<std::tuple<uint8_t, uint16_t, uint16_t>> ports;
      Napi::Array pa = get_array(ro, "ports", rw, false);
      for (uint32_t k = 0; k < pa.Length(); k++) {
        std::string pw = rw + ".ports[" + std::to_string(k) + "]";
        if (!pa.Get(k).IsObject()) bad(env, pw, "not an object");
        Napi::Object po = pa.Get(k).As<Napi::Object>();
        std::string proto = get_string(po, "protocol", pw, true);
        uint8_t pr = proto == "TCP" ? podnet::kTCP : proto == "UDP" ? podnet::kUDP : proto == "SCTP" ? 132 : 0;
        if (!pr) bad(env, pw + ".protocol", "must be TCP, UDP or SCTP, got '" + proto + "'");
        uint16_t lo = 0, hi = 65535;
        if (!po.Get("port").IsUndefined() && !po.Get("port").IsNull()) {
          lo = hi = get_port(po, pw);
          Napi::Value ep = po.Get("endPort");
          if (!ep.IsUndefined() && !ep.IsNull()) {
            if (!ep.IsNumber()) bad(env, pw + ".endPort", "not a number");
            double d = ep.As<Napi::Number>().DoubleValue();
            if (d != double(int64_t(d)) || d < lo || d > 65535) bad(env, pw + ".endPort", "must be an integer in [port, 65535]");
            hi = uint16_t(d);
          }
        }
        ports.emplace_back(pr, lo, hi);
      }
      if (ports.empty()) ports.emplace_back(0, 0, 65535);
      // Peers once per rule, added to each of its port classes.
      std::vector<podnet::IpRange> r4, r6;
      bool any = false;
      Napi::Array peers = get_array(ro, "peers", rw, false);
      if (peers.Length() == 0) any = true;
      for (uint32_t k = 0; k < peers.Length(); k++) {
        std::string pw = rw + ".peers[" + std::to_string(k) + "]";
        if (!peers.Get(k).IsObject()) bad(env, pw, "not an object");
        Napi::Object po = peers.Get(k).As<Napi::Object>();
        std::string cidr = get_string(po, "cidr", pw, true);
        Addr base{};
        uint8_t fam = 0;
        uint32_t prefix = 0;
        if (!parse_cidr(cidr, base, fam, prefix)) bad(env, pw + ".cidr", "not a CIDR: '" + cidr + "'");
        std::vector<std::pair<Addr, uint32_t>> except;
        Napi::Array ex = get_array(po, "except", pw, false);
        for (uint32_t x = 0; x < ex.Length(); x++) {
          std::string xw = pw + ".except[" + std::to_string(x) + "]";
          if (!ex.Get(x).IsString()) bad(env, xw, "not a string");
          std::string xs = ex.Get(x).As<Napi::String>().Utf8Value();
          Addr xa{};
          uint8_t xf = 0;
          uint32_t xp = 0;
          if (!parse_cidr(xs, xa, xf, xp) || xf != fam) bad(env, xw, "not a CIDR of the block's family: '" + xs + "'");
          except.emplace_back(xa, xp);
        }
        podnet::cidr_ranges(fam, base, prefix, except, pol, fam == 4 ? r4 : r6);
      }
      for (const auto& key : ports) {
        auto [it, fresh] = classes.emplace(key, rs.classes.size());
        if (fresh) {
          podnet::PortClass c{};
          c.proto = std::get<0>(key);
          c.lo = std::get<1>(key);
          c.hi = std::get<2>(key);
          rs.classes.push_back(std::move(c));
        }
        podnet::PortClass& c = rs.classes[it->second];
        if (any && !c.any_peer) {
          c.any_peer = true;
          c.any_peer_policy = pol;
        }
        c.v4.insert(c.v4.end(), r4.begin(), r4.end());
        c.v6.insert(c.v6.end(), r6.begin(), r6.end());
      }
    }
    podnet::finish_rule_set(rs);
    t.sets.push_back(std::move(rs));
  }
  Napi::Array pods = get_array(o, "pods", "policy", true);
  for (uint32_t i = 0; i < pods.Length(); i++) {
    std::string w = "pods[" + std::to_string(i) + "]";
    if (!pods.Get(i).IsObject()) bad(env, w, "not an object");
    Napi::Object po = pods.Get(i).As<Napi::Object>();
    podnet::PodPolicy pp;
    pp.name = uint32_t(t.pod_names.size());
    t.pod_names.push_back(get_string(po, "name", w, false));
    for (const char* dir : {"ingress", "egress"}) {
      Napi::Value dv = po.Get(dir);
      if (dv.IsUndefined() || dv.IsNull()) continue;
      if (!dv.IsNumber()) bad(env, w + "." + dir, "not a number");
      double d = dv.As<Napi::Number>().DoubleValue();
      if (d != double(int64_t(d)) || d < 0 || d >= t.sets.size()) bad(env, w + "." + dir, "not an index into ruleSets");
      (std::string(dir) == "ingress" ? pp.ingress : pp.egress) = int32_t(d);
      t.active = true;
    }
    Napi::Array ips = get_array(po, "ips", w, true);
    for (uint32_t k = 0; k < ips.Length(); k++) {
      std::string iw = w + ".ips[" + std::to_string(k) + "]";
      if (!ips.Get(k).IsString()) bad(env, iw, "not a string");
      std::string s = ips.Get(k).As<Napi::String>().Utf8Value();
      podnet::VipKey key{};
      if (!parse_ip(s, key.addr, key.family)) bad(env, iw, "not an IP address: '" + s + "'");
      t.pods[key] = pp;
    }
  }
  Napi::Array hosts = get_array(o, "hostAddresses", "policy", false);
  for (uint32_t i = 0; i < hosts.Length(); i++) {
    std::string w = "hostAddresses[" + std::to_string(i) + "]";
    if (!hosts.Get(i).IsString()) bad(env, w, "not a string");
    std::string s = hosts.Get(i).As<Napi::String>().Utf8Value();
    podnet::VipKey key{};
    if (!parse_ip(s, key.addr, key.family)) bad(env, w, "not an IP address: '" + s + "'");
    t.hosts.insert(key);
  }
  return t;
}

void parse_masq(Napi::Env env, Napi::Object o, podnet::MasqConfig& m) {
  auto opt = [&](const std::string& k) { return coded(env, "ENGINE_BAD_OPTION", "egressMasquerade." + k); };
  auto cidrs = [&](const char* key, std::vector<podnet::IpRange>& v4, std::vector<podnet::IpRange>& v6) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsArray()) throw opt(std::string(key) + ": not an array");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Addr base{};
      uint8_t fam = 0;
      uint32_t prefix = 0;
      std::string s = a.Get(i).IsString() ? a.Get(i).As<Napi::String>().Utf8Value() : "";
      if (!parse_cidr(s, base, fam, prefix)) throw opt(std::string(key) + "[" + std::to_string(i) + "]: not a CIDR: '" + s + "'");
      podnet::cidr_ranges(fam, base, prefix, {}, 0, fam == 4 ? v4 : v6);
    }
    merge_ranges(v4, v6);
  };
  cidrs("podCIDRs", m.pods4, m.pods6);
  cidrs("exemptCIDRs", m.exempt4, m.exempt6);
  for (auto [key, want, addr, on] : {std::tuple<const char*, uint8_t, Addr*, bool*>{"sourceIPv4", 4, &m.src4, &m.v4},
                                     std::tuple<const char*, uint8_t, Addr*, bool*>{"sourceIPv6", 6, &m.src6, &m.v6}}) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) continue;
    uint8_t fam = 0;
    if (!v.IsString() || !parse_ip(v.As<Napi::String>().Utf8Value(), *addr, fam) || fam != want)
      throw opt(std::string(key) + ": not an IPv" + (want == 4 ? "4" : "6") + " address");
    *on = true;
  }
  m.port_lo = uint16_t(get_uint(o, "portMin", m.port_lo, 1024, 65535, "egressMasquerade."));
  m.port_hi = uint16_t(get_uint(o, "portMax", m.port_hi, 1024, 65535, "egressMasquerade."));
  if (m.port_hi < m.port_lo) throw opt("portMax: below portMin");
}

const char* tcp_state_name(uint8_t s) {
  switch (s & podnet::kStateMask) {
    case podnet::kSynSent: return "SYN_SENT";
    case podnet::kEstablished: return "ESTABLISHED";
    case podnet::kFinWait: return "FIN_WAIT";
    case podnet::kTimeWait: return "TIME_WAIT";
    case podnet::kReset: return "RESET";
    default: return "CLOSE";
  }
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
      if (v.IsUndefined() || v.IsNull()) return;
      uint8_t fam = 0;
      if (!v.IsString() || !parse_ip(v.As<Napi::String>().Utf8Value(), out, fam) || fam != want)
        throw coded(env, "ENGINE_BAD_OPTION", std::string(key) + ": not an IPv" + (want == 4 ? "4" : "6") + " address");
    };
    hairpin("hairpinIPv4", 4, c.hairpin4);
    hairpin("hairpinIPv6", 6, c.hairpin6);
    Napi::Value mv = o.Get("egressMasquerade");
    if (mv.IsObject()) parse_masq(env, mv.As<Napi::Object>(), c.masq);
    else if (!mv.IsUndefined() && !mv.IsNull()) throw coded(env, "ENGINE_BAD_OPTION", "egressMasquerade: not an object");
    Napi::Value sf = o.Get("stateFile");
    if (sf.IsString()) c.state_file = sf.As<Napi::String>().Utf8Value();
    else if (!sf.IsUndefined() && !sf.IsNull()) throw coded(env, "ENGINE_BAD_OPTION", "stateFile: not a string");
    Napi::Value tv = o.Get("timeouts");
    if (tv.IsObject()) {
      Napi::Object t = tv.As<Napi::Object>();
      auto ms = [&](const char* k, uint32_t& field) {
        field = get_uint(t, k, field / 1000, 1, 30 * 86400, "timeouts.") * 1000;
      };
      ms("tcpSynSec", c.timeouts.tcp_syn_ms);
      ms("tcpEstablishedSec", c.timeouts.tcp_established_ms);
      ms("tcpFinSec", c.timeouts.tcp_fin_ms);
      ms("tcpTimeWaitSec", c.timeouts.tcp_time_wait_ms);
      ms("tcpCloseSec", c.timeouts.tcp_close_ms);
      ms("udpSec", c.timeouts.udp_ms);
      ms("udpStreamSec", c.timeouts.udp_stream_ms);
      ms("icmpSec", c.timeouts.icmp_ms);
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
    if (!rv.IsUndefined() && !rv.IsNull()) {
      if (!rv.IsArray()) bad(env, "remove", "not an array");
      Napi::Array a = rv.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) {
        std::string w = "remove[" + std::to_string(i) + "]";
        if (!a.Get(i).IsObject()) bad(env, w, "not an object");
        rm.push_back(parse_key(a.Get(i).As<Napi::Object>(), w));
      }
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
      o.Set("vip", format_ip(k.family, k.vip));
      o.Set("port", k.port);
      o.Set("protocol", k.proto == podnet::kTCP ? "TCP" : "UDP");
      o.Set("name", sp->name);
      Counters(env, e.svc_counter(sp->slot), o);
      Napi::Array bs = Napi::Array::New(env);
      for (uint32_t j = 0; j < sp->backends.size(); j++) {
        const podnet::Backend& b = sp->backends[j];
        Napi::Object bo = Napi::Object::New(env);
        bo.Set("ip", format_ip(k.family, b.addr));
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
      o.Set("packetsIn", double(qc[q]->packets_in.load()));
      o.Set("packetsOut", double(qc[q]->packets_out.load()));
      o.Set("bytesIn", double(qc[q]->bytes_in.load()));
      o.Set("wakeups", double(qc[q]->wakeups.load()));
      o.Set("gsoPackets", double(qc[q]->gso_packets.load()));
      o.Set("readErrors", double(qc[q]->read_errors.load()));
      o.Set("writeErrors", double(qc[q]->write_errors.load()));
      o.Set("busyPolled", double(qc[q]->busy_polled.load()));
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
      o.Set("client", format_endpoint(k.family, k.src, k.sport));
      o.Set("vip", format_endpoint(k.family, k.dst, k.dport));
      o.Set("backend", format_endpoint(k.family, x.dst, x.dport));
      if (x.rewrite & podnet::kRewriteSrc) o.Set("snat", format_endpoint(k.family, x.src, x.sport));
      o.Set("state", proto == podnet::kTCP ? tcp_state_name(state) : state ? "REPLIED" : "UNREPLIED");
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
    if (r.reason != podnet::Drop::count) o.Set("reason", podnet::drop_name(r.reason));
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
    Addr src{}, dst{};
    uint8_t fs = 0, fd = 0;
    std::string from = get_string(o, "from", "trace", true), to = get_string(o, "to", "trace", true);
    if (!parse_ip(from, src, fs)) bad(env, "trace.from", "not an IP address: '" + from + "'");
    if (!parse_ip(to, dst, fd)) bad(env, "trace.to", "not an IP address: '" + to + "'");
    if (fs != fd) bad(env, "trace.to", "family differs from trace.from");
    uint16_t dport = get_port(o, "trace");
    std::string proto = get_string(o, "protocol", "trace", true);
    uint8_t pr = proto == "TCP" ? podnet::kTCP : proto == "UDP" ? podnet::kUDP : 0;
    if (!pr) bad(env, "trace.protocol", "must be TCP or UDP, got '" + proto + "'");
    uint16_t sport = uint16_t(get_uint(o, "sourcePort", 40000, 1, 65535, "trace."));
    uint8_t pkt[80] = {};
    size_t ih = fs == 4 ? 20 : 40, l4 = pr == podnet::kTCP ? 20 : 8;
    if (fs == 4) {
      pkt[0] = 0x45;
      podnet::store16(pkt + 2, uint16_t(ih + l4));
      pkt[8] = 64;
      pkt[9] = pr;
      std::memcpy(pkt + 12, src.b, 4);
      std::memcpy(pkt + 16, dst.b, 4);
    } else {
      pkt[0] = 0x60;
      podnet::store16(pkt + 4, uint16_t(l4));
      pkt[6] = pr;
      pkt[7] = 64;
      std::memcpy(pkt + 8, src.b, 16);
      std::memcpy(pkt + 24, dst.b, 16);
    }
    uint8_t* t = pkt + ih;
    podnet::store16(t, sport);
    podnet::store16(t + 2, dport);
    if (pr == podnet::kTCP) {
      t[12] = 5 << 4;
      t[13] = podnet::kTcpSyn;
    } else {
      podnet::store16(t + 4, uint16_t(l4));
    }
    podnet::TraceInfo ti;
    std::shared_ptr<const podnet::ServiceTable> hold;
    e.trace(pkt, ih + l4, ti, hold);
    Napi::Object r = Napi::Object::New(env);
    const char* verdict = ti.verdict == podnet::Verdict::kDrop ? "drop"
                        : ti.verdict == podnet::Verdict::kReply ? "reject" : "forward";
    if (ti.verdict == podnet::Verdict::kReply && ti.reason == podnet::Drop::count) verdict = "reply";
    r.Set("verdict", verdict);
    if (ti.reason != podnet::Drop::count) r.Set("reason", podnet::drop_name(ti.reason));
    r.Set("service", ti.service);
    r.Set("existingFlow", ti.existing_flow);
    if (ti.svc) r.Set("servicePort", ti.svc->name);
    if (ti.x.rewrite & podnet::kRewriteDst) r.Set("backend", format_endpoint(fs, ti.x.dst, ti.x.dport));
    if (ti.x.rewrite & podnet::kRewriteSrc) r.Set("snat", format_endpoint(fs, ti.x.src, ti.x.sport));
    auto pol = e.policy();
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
    auto [version, cut] = e.set_policy(parse_policy(env, info[0]));
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
