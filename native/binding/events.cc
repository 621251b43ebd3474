// podnetctl monitor as JS sees it: monitorStart() attaches to the engine's event ring
// (events.h), monitorRead() drains it into plain objects, monitorStop() detaches. The ring
// holds addresses and counter slots; the names (service port, backend, pod, policy) are looked
// up here, in the tables published when the event is read.
#include <time.h>

#include <unordered_map>

#include "../addr_text.h"
#include "../new_flow.h"
#include "binding.h"

namespace podnet::binding {

namespace {

constexpr uint32_t kReadMax = EventRing::kCapacity;

const char* proto_name(uint8_t family, uint8_t proto) {
  switch (proto) {
    case kTCP: return "TCP";
    case kUDP: return "UDP";
    case kICMP: return "ICMP";
    case kICMPv6: return "ICMPv6";
    default: return family ? "other" : "unknown";
  }
}

const char* kind_name(uint8_t kind) {
  switch (FlowKind(kind)) {
    case FlowKind::kService: return "service";
    case FlowKind::kMasquerade: return "masquerade";
    default: return "tracked";
  }
}

// Wall-clock milliseconds of a monotonic stamp.
double wall_ms(uint64_t mono_ms) {
  timespec rt, mt;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mt);
  double now_rt = double(rt.tv_sec) * 1000 + double(rt.tv_nsec) / 1e6;
  double now_mt = double(mt.tv_sec) * 1000 + double(mt.tv_nsec) / 1e6;
  return now_rt - (now_mt - double(mono_ms));
}

// What the names come from, held for one read.
struct Names {
  std::shared_ptr<const ServiceTable> services;
  std::shared_ptr<const PolicyTable> policy;
  std::vector<const std::string*> policy_by_slot;
  bool fast_path;

  explicit Names(Engine& e) : services(e.table()), policy(e.policy()), fast_path(e.kernel_cache() != nullptr) {
    for (const auto& [name, slot] : e.policy_slots()) {
      if (slot >= policy_by_slot.size()) policy_by_slot.resize(size_t(slot) + 1, nullptr);
      policy_by_slot[slot] = &name;
    }
  }
  const std::string* pod(uint8_t family, const Addr& a) const {
    auto it = policy->pods.find(VipKey{a, family});
    if (it == policy->pods.end() || it->second.name >= policy->pod_names.size()) return nullptr;
    return &policy->pod_names[it->second.name];
  }
  const std::string* policy_name(uint32_t slot) const {
    return slot < policy_by_slot.size() ? policy_by_slot[slot] : nullptr;
  }
};

std::string endpoint(const Event& ev, const Addr& a, uint16_t port) {
  bool ports = ev.proto == kTCP || ev.proto == kUDP;
  return ports ? format_endpoint(ev.family, a, port) : format_ip(ev.family, a);
}

Napi::Object to_js(Napi::Env env, const Event& ev, const Names& n) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", ev.type == EventType::kDrop ? "drop" : ev.type == EventType::kFlowNew ? "flow-new" : "flow-end");
  o.Set("timeMs", wall_ms(ev.time_ms));
  if (ev.type == EventType::kDrop) o.Set("reason", drop_name(Drop(ev.reason)));
  if (ev.type == EventType::kFlowEnd) o.Set("reason", flow_end_name(FlowEnd(ev.reason)));
  if (ev.type == EventType::kDrop) o.Set("length", ev.len);
  if (ev.family == 4 || ev.family == 6) o.Set("family", ev.family);
  if (!(ev.flags & kEvParsed)) return o;
  o.Set("protocol", proto_name(ev.family, ev.proto));
  o.Set("srcIp", format_ip(ev.family, ev.src));
  o.Set("dstIp", format_ip(ev.family, ev.dst));
  o.Set("src", endpoint(ev, ev.src, ev.sport));
  o.Set("dst", endpoint(ev, ev.dst, ev.dport));
  if (const std::string* p = n.pod(ev.family, ev.src)) o.Set("srcPod", *p);
  if (const std::string* p = n.pod(ev.family, ev.dst)) o.Set("dstPod", *p);
  const ServicePort* sp = n.services->find(ev.family, ev.proto, ev.dst, ev.dport);
  if (sp) o.Set("servicePort", sp->name);
  if (ev.flags & kEvBackend) {
    o.Set("backend", format_endpoint(ev.family, ev.be, ev.be_port));
    const Backend* b = sp ? sp->find(ev.be, ev.be_port) : nullptr;
    if (b && !b->name.empty()) o.Set("backendName", b->name);
    if (const std::string* p = n.pod(ev.family, ev.be)) o.Set("backendPod", *p);
  }
  if (ev.flags & kEvSnat) o.Set("snat", format_endpoint(ev.family, ev.snat, ev.snat_port));
  if (ev.type == EventType::kFlowNew) {
    o.Set("kind", kind_name(ev.kind));
    if (n.fast_path) o.Set("cached", (ev.flags & kEvCached) != 0);
  }
  if (ev.type == EventType::kFlowEnd) o.Set("state", flow_state_name(ev.proto, ev.state));
  if (ev.n_policies) {
    Napi::Array names = Napi::Array::New(env);
    uint32_t k = 0;
    for (uint32_t i = 0; i < ev.n_policies && i < Event::kMaxPolicies; i++)
      if (const std::string* p = n.policy_name(ev.policies[i])) names.Set(k++, *p);
    if (ev.flags & kEvPolicyAllow) {
      if (k) o.Set("allowedBy", names.Get(0u));
    } else {
      o.Set("deniedBy", names);
      if (ev.more_policies) o.Set("morePolicies", ev.more_policies);
    }
  }
  return o;
}

}  // namespace

// monitorStart({rate?, burst?}): events per second per engine thread and the burst above it.
Napi::Value monitor_start(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t rate = Monitor::kDefaultRate, burst = Monitor::kDefaultBurst;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
    if (!absent(o.Get("rate"))) rate = uint32_t(int_in(o.Get("rate"), "monitor.rate", 1, 1000000, "1..1000000", "ENGINE_BAD_ARGUMENT"));
    if (!absent(o.Get("burst"))) burst = uint32_t(int_in(o.Get("burst"), "monitor.burst", 1, 1000000, "1..1000000", "ENGINE_BAD_ARGUMENT"));
  }
  e.monitor().attach(rate, burst);
  return env.Undefined();
}

// monitorRead(max = 4096) -> {events, skipped, lost}: skipped (over a thread's rate) and lost
// (ring full) count since monitorStart.
Napi::Value monitor_read(Engine& e, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t max = kReadMax;
  if (info.Length() > 0 && !absent(info[0])) max = uint32_t(int_in(info[0], "monitorRead.max", 1, kReadMax, "1..4096", "ENGINE_BAD_ARGUMENT"));
  std::vector<Event> buf(max);
  size_t got = e.monitor().read(buf.data(), max);
  Names names(e);
  Napi::Array events = Napi::Array::New(env, got);
  for (size_t i = 0; i < got; i++) events.Set(uint32_t(i), to_js(env, buf[i], names));
  MonitorCounts c = e.monitor().counts();
  Napi::Object o = Napi::Object::New(env);
  o.Set("events", events);
  o.Set("skipped", double(c.skipped));
  o.Set("lost", double(c.lost));
  return o;
}

Napi::Value monitor_stop(Engine& e, const Napi::CallbackInfo& info) {
  e.monitor().detach();
  return info.Env().Undefined();
}

}  // namespace podnet::binding
