// apply() and replace() input -> the engine's ServicePortSpec and SvcKey (the
// ServicePortSpec of src/engine/types.ts). The one input on a hot control path: a full sync
// converts every service port of the cluster, so property names are made once per call and
// each spec gets its own handle scope.
#include <cstring>

#include "../addr_text.h"
#include "binding.h"

namespace podnet::binding {

namespace {

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

SvcKey parse_key(Napi::Object o, const std::string& where, const SpecKeys& keys) {
  SvcKey k{};
  char vip[64], proto[64];
  auto w = [&] { return where; };
  required_string(o, keys.vip, "vip", vip, w);
  if (!parse_ip(vip, k.vip, k.family)) bad(o.Env(), where + ".vip", "not an IP address: '" + std::string(vip) + "'");
  k.port = port_of(o.Get(keys.port), where);
  required_string(o, keys.protocol, "protocol", proto, w);
  if (std::strcmp(proto, "TCP") == 0) k.proto = kTCP;
  else if (std::strcmp(proto, "UDP") == 0) k.proto = kUDP;
  else bad(o.Env(), where + ".protocol", "must be TCP or UDP, got '" + std::string(proto) + "'");
  return k;
}

BackendSpec parse_backend(Napi::Value bv, uint8_t family, const SpecKeys& keys, uint32_t i,
                                  const std::string& where) {
  // The path is only spelled out for an error message.
  auto bw = [&] { return where + ".backends[" + std::to_string(i) + "]"; };
  if (!bv.IsObject()) bad(bv.Env(), bw(), "not an object");
  Napi::Object bo = bv.As<Napi::Object>();
  BackendSpec b{};
  char ip[64];
  required_string(bo, keys.ip, "ip", ip, bw);
  uint8_t fam = 0;
  if (!parse_ip(ip, b.addr, fam)) bad(bo.Env(), bw() + ".ip", "not an IP address: '" + std::string(ip) + "'");
  if (fam != family) bad(bo.Env(), bw() + ".ip", "family differs from the VIP's: '" + std::string(ip) + "'");
  b.port = port_of(bo.Get(keys.port), bw());
  b.terminating = bo.Get(keys.terminating).ToBoolean().Value();
  opt_string(bo, keys.name, bw() + ".name", b.name);
  return b;
}

ServicePortSpec parse_spec(Napi::Value v, const std::string& where, const SpecKeys& keys) {
  if (!v.IsObject()) bad(v.Env(), where, "not an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Env env = o.Env();
  ServicePortSpec s;
  s.key = parse_key(o, where, keys);
  opt_string(o, keys.name, where + ".name", s.name);
  if (s.name.empty())
    s.name = format_endpoint(s.key.family, s.key.vip, s.key.port) + (s.key.proto == kTCP ? "/TCP" : "/UDP");
  Napi::Value aff = o.Get(keys.affinity);
  if (!absent(aff)) s.affinity_timeout_s = uint32_t(int_in(aff, where + ".affinityTimeoutSec", 0, 86400, "must be an integer in [0, 86400]"));
  std::string m;
  if (opt_string(o, keys.masquerade, where + ".masquerade", m)) {
    uint8_t fam = 0;
    if (!parse_ip(m, s.masquerade_addr, fam)) bad(env, where + ".masquerade", "not an IP address: '" + m + "'");
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
    Napi::Array a = sr.As<Napi::Array>();
    std::vector<std::string> text;
    for (uint32_t i = 0; i < a.Length(); i++) text.push_back(a.Get(i).IsString() ? a.Get(i).As<Napi::String>().Utf8Value() : "");
    long wrong = cidr_list(text, s.source4, s.source6);
    if (wrong >= 0) bad(env, at(where + ".sourceRanges", uint32_t(wrong)), "not a CIDR: '" + text[size_t(wrong)] + "'");
  }
  Napi::Value bs = o.Get(keys.backends);
  if (!bs.IsArray()) bad(env, where + ".backends", "not an array");
  Napi::Array arr = bs.As<Napi::Array>();
  uint32_t n = arr.Length();
  s.backends.reserve(n);
  for (uint32_t i = 0; i < n; i++) s.backends.push_back(parse_backend(arr.Get(i), s.key.family, keys, i, where));
  return s;
}

}  // namespace

std::vector<ServicePortSpec> parse_specs(Napi::Value v, const std::string& where) {
  std::vector<ServicePortSpec> out;
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

std::vector<SvcKey> parse_keys(Napi::Value v, const std::string& where) {
  std::vector<SvcKey> out;
  if (absent(v)) return out;
  if (!v.IsArray()) bad(v.Env(), where, "not an array");
  Napi::Array a = v.As<Napi::Array>();
  SpecKeys keys(v.Env());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(parse_key(object_at(a, i, at(where, i)), at(where, i), keys));
  return out;
}

}  // namespace podnet::binding
