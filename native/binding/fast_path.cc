// The kernel flow cache as JS sees it: enableFastPath() before attachTun(), the pods of the
// node's bridge (setLocalPod / deleteLocalPod, from podnetd's watch of the bridge's ports),
// the node's uplinks (setUplinks, from podnetd's external.uplinks and cross-node routing's
// ingress device), the cluster's addresses off this node (setClusterPeers, from the Nodes),
// fastPathStatus() for podnetctl status and /metrics, fastPathRemoveAll() for --cleanup.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "../addr_text.h"
#include "../bpf/flow_cache.h"
#include "binding.h"

namespace podnet::binding {

namespace {

void parse_mac(Napi::Env env, const std::string& s, const std::string& where, uint8_t out[6]) {
  unsigned b[6];
  char tail;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6 ||
      s.size() != 17)
    bad(env, where, "not a MAC address", "ENGINE_BAD_ARGUMENT");
  for (int i = 0; i < 6; i++) out[i] = uint8_t(b[i]);
}

Napi::Object object_arg(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 1 || !info[0].IsObject()) bad(info.Env(), what, "not an object", "ENGINE_BAD_ARGUMENT");
  return info[0].As<Napi::Object>();
}

void throw_if(Napi::Env env, const std::string& err) {
  if (!err.empty()) throw coded(env, "ENGINE_FAST_PATH", err);
}

}  // namespace

// enableFastPath({bpffs, flowsMax?, forceClsact?, object?}) -> what the loader found.
Napi::Value enable_fast_path(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = object_arg(info, "fastPath");
  KernelCacheOptions ko;
  ko.pin_root = get_string(o, "bpffs", "fastPath.bpffs", true);
  if (!absent(o.Get("flowsMax")))
    ko.flows_max = uint32_t(int_in(o.Get("flowsMax"), "fastPath.flowsMax", 1024, 1 << 24, "1024..16777216", "ENGINE_BAD_ARGUMENT"));
  ko.force_clsact = o.Get("forceClsact").ToBoolean().Value();
  ko.object_path = get_string(o, "object", "fastPath.object", false);
  engine_call(env, [&] { e.enable_fast_path(ko); });
  const fastpath::LoadReport& r = e.kernel_cache()->load_report();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pinDir", e.kernel_cache()->pin_dir());
  out.Set("flowsReused", r.reused[fastpath::kFlowsMap]);
  out.Set("flowsReplaced", r.flows_replaced);
  out.Set("linksUpdated", r.links_updated);
  out.Set("filtersReplaced", r.filters_replaced);
  out.Set("staleRemoved", r.stale_removed);
  return out;
}

// setLocalPod({ifindex, mac, gatewayMac, addresses: ["10.244.1.5", "fd00::5"], antiSpoofing?}):
// antiSpoofing false writes no anti-spoofing entry (absent: true).
Napi::Value set_local_pod(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = object_arg(info, "pod");
  LocalPod pod;
  pod.ifindex = uint32_t(int_in(o.Get("ifindex"), "pod.ifindex", 1, 0x7fffffff, "1..2147483647", "ENGINE_BAD_ARGUMENT"));
  parse_mac(env, get_string(o, "mac", "pod.mac", true), "pod.mac", pod.mac);
  parse_mac(env, get_string(o, "gatewayMac", "pod.gatewayMac", true), "pod.gatewayMac", pod.gw_mac);
  Napi::Array list = get_array(o, "addresses", "pod.addresses", true);
  std::vector<std::pair<uint8_t, Addr>> addrs;
  for (uint32_t i = 0; i < list.Length(); i++) {
    std::string s = string_at(list, i, "pod.addresses");
    Addr a{};
    uint8_t family = 0;
    if (!parse_ip(s, a, family)) bad(env, at("pod.addresses", i), "not an IP address", "ENGINE_BAD_ARGUMENT");
    addrs.emplace_back(family, a);
  }
  Napi::Value as = o.Get("antiSpoofing");
  if (!absent(as) && !as.IsBoolean()) bad(env, "pod.antiSpoofing", "not a boolean", "ENGINE_BAD_ARGUMENT");
  throw_if(env, e.set_local_pod(pod, addrs, absent(as) || as.As<Napi::Boolean>().Value()));
  return env.Undefined();
}

// setUplinks([{ifindex, mtu}]): the whole list; throws ENGINE_FAST_PATH when one could not be
// attached (the others are in use).
Napi::Value set_uplinks(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) bad(env, "uplinks", "not an array", "ENGINE_BAD_ARGUMENT");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<Uplink> uplinks;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsObject()) bad(env, at("uplinks", i), "not an object", "ENGINE_BAD_ARGUMENT");
    Napi::Object o = v.As<Napi::Object>();
    Uplink u;
    u.ifindex = uint32_t(int_in(o.Get("ifindex"), at("uplinks", i) + ".ifindex", 1, 0x7fffffff, "1..2147483647", "ENGINE_BAD_ARGUMENT"));
    u.mtu = uint32_t(int_in(o.Get("mtu"), at("uplinks", i) + ".mtu", 68, 65535, "68..65535", "ENGINE_BAD_ARGUMENT"));
    uplinks.push_back(u);
  }
  throw_if(env, e.set_uplinks(uplinks));
  return env.Undefined();
}

// setClusterPeers(["10.244.2.0/24", "192.168.77.12/32", ...]): the whole list.
Napi::Value set_cluster_peers(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) bad(env, "peers", "not an array", "ENGINE_BAD_ARGUMENT");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<std::string> text;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    text.push_back(v.IsString() ? v.As<Napi::String>().Utf8Value() : "");
  }
  std::vector<IpRange> v4, v6;
  long at_bad = cidr_list(text, v4, v6);
  if (at_bad >= 0) bad(env, at("peers", uint32_t(at_bad)), "not a CIDR: '" + text[size_t(at_bad)] + "'", "ENGINE_BAD_ARGUMENT");
  throw_if(env, e.set_cluster_peers(std::move(v4), std::move(v6)));
  return env.Undefined();
}

Napi::Value delete_local_pod(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = uint32_t(int_in(info[0], "ifindex", 1, 0x7fffffff, "1..2147483647", "ENGINE_BAD_ARGUMENT"));
  throw_if(env, e.delete_local_pod(ifindex));
  return env.Undefined();
}

// localPodEntry(ifindex) -> {mac, addresses, attached} as the kernel holds them, or null when
// the ifindex has no anti-spoofing entry (or the fast path is off).
Napi::Value local_pod_entry(const Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = uint32_t(int_in(info[0], "ifindex", 1, 0x7fffffff, "1..2147483647", "ENGINE_BAD_ARGUMENT"));
  const KernelCache* c = e.kernel_cache();
  if (!c) return env.Null();
  podnet_pod_addrs pa;
  if (int rc = c->pod_entry(ifindex, &pa); rc == -ENOENT) return env.Null();
  else if (rc != 0) throw coded(env, "ENGINE_FAST_PATH", "anti-spoofing entry of ifindex " + std::to_string(ifindex) + ": " + std::strerror(-rc));
  char mac[18];
  std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", pa.mac[0], pa.mac[1], pa.mac[2], pa.mac[3], pa.mac[4], pa.mac[5]);
  Napi::Array addrs = Napi::Array::New(env);
  uint32_t n = 0;
  for (uint32_t i = 0; i < pa.n_v4 && i < PODNET_POD_MAX_V4; i++) {
    Addr a{};
    std::memcpy(a.b, pa.v4[i], 4);
    addrs.Set(n++, format_ip(4, a));
  }
  for (uint32_t i = 0; i < pa.n_v6 && i < PODNET_POD_MAX_V6; i++) {
    Addr a{};
    std::memcpy(a.b, pa.v6[i], 16);
    addrs.Set(n++, format_ip(6, a));
  }
  bool attached = false;
  for (const fastpath::Attachment& a : c->attachments()) attached = attached || (a.ifindex == ifindex && a.prog_id != 0);
  Napi::Object o = Napi::Object::New(env);
  o.Set("mac", std::string(mac));
  o.Set("addresses", addrs);
  o.Set("attached", attached);
  return o;
}

// null while the fast path is off.
Napi::Value fast_path_status(const Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KernelCache* c = e.kernel_cache();
  if (!c) return env.Null();
  KernelCacheStats s = c->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("pinDir", c->pin_dir());
  o.Set("attachMode", c->attach_mode());
  o.Set("entries", double(s.entries));
  o.Set("installs", double(s.installs));
  o.Set("installErrors", double(s.install_errors));
  o.Set("removed", double(s.removed));
  o.Set("sweeps", double(s.sweeps));
  o.Set("sweepErrors", double(s.sweep_errors));
  Napi::Object prog = Napi::Object::New(env);
  static const char* const kNames[PODNET_STAT_MAX] = {PODNET_STAT_NAMES};
  if (s.program_error == 0)
    for (uint32_t i = 0; i < PODNET_STAT_MAX; i++) prog.Set(kNames[i], double(s.program[i]));
  o.Set("program", prog);
  auto pods = e.pods();
  std::vector<uint32_t> veths;
  if (pods) pods->for_each([&](uint8_t, const Addr&, const LocalPod& p) { veths.push_back(p.ifindex); });
  std::sort(veths.begin(), veths.end());
  veths.erase(std::unique(veths.begin(), veths.end()), veths.end());
  o.Set("pods", double(veths.size()));
  Napi::Array ups = Napi::Array::New(env);
  if (pods)
    for (const Uplink& u : pods->uplinks()) ups.Set(ups.Length(), u.ifindex);
  o.Set("uplinks", ups);
  Napi::Array att = Napi::Array::New(env);
  uint32_t i = 0;
  for (const fastpath::Attachment& a : c->attachments()) {
    Napi::Object ao = Napi::Object::New(env);
    ao.Set("ifindex", a.ifindex);
    ao.Set("mode", fastpath::AttachModeName(a.mode));
    ao.Set("progId", a.prog_id);
    att.Set(i++, ao);
  }
  o.Set("attachments", att);
  return o;
}

Napi::Value fast_path_remove_all(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!e.kernel_cache()) return env.Undefined();
  throw_if(env, e.kernel_cache()->remove_all());
  return env.Undefined();
}

}  // namespace podnet::binding
