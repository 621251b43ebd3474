// What the engine does with a packet, as JS sees it: process() runs one packet through the
// real pipeline on the calling thread, trace() dry-runs the first packet of a connection
// (podnetctl trace), flows() lists the connections the engine tracks.
#include <cstring>

#include "../addr_text.h"
#include "binding.h"

namespace podnet::binding {

Napi::Object process_packet(Napi::Env env, Engine& e, Napi::Value packet, Napi::Value options) {
  if (!packet.IsBuffer()) throw coded(env, "ENGINE_BAD_ARGUMENT", "process: packet must be a Buffer");
  auto in = packet.As<Napi::Buffer<uint8_t>>();
  bool vnet = false;
  uint64_t now = monotonic_ms();
  if (options.IsObject()) {
    Napi::Object o = options.As<Napi::Object>();
    vnet = o.Get("vnetHdr").ToBoolean().Value();
    Napi::Value n = o.Get("nowMs");
    if (n.IsNumber()) now = uint64_t(n.As<Napi::Number>().Int64Value());
  }
  // Work on a private copy: the pipeline rewrites in place.
  std::vector<uint8_t> buf(in.Data(), in.Data() + in.Length());
  VnetHdr vh{};
  size_t off = 0;
  if (vnet) {
    if (buf.size() < sizeof vh) throw coded(env, "ENGINE_BAD_ARGUMENT", "process: shorter than a virtio_net_hdr");
    std::memcpy(&vh, buf.data(), sizeof vh);
    off = sizeof vh;
  }
  Result r = e.process(buf.data() + off, buf.size() - off, vnet ? &vh : nullptr, now);
  Napi::Object o = Napi::Object::New(env);
  o.Set("verdict", r.verdict == Verdict::kForward ? "forward" : r.verdict == Verdict::kReply ? "reply" : "drop");
  if (r.reason != Drop::none) o.Set("reason", drop_name(r.reason));
  if (r.verdict != Verdict::kDrop) {
    auto pkt = Napi::Buffer<uint8_t>::New(env, r.out_len + off);
    if (vnet) std::memcpy(pkt.Data(), &vh, sizeof vh);
    std::memcpy(pkt.Data() + off, r.out, r.out_len);
    o.Set("packet", pkt);
  }
  if (r.out2_len) o.Set("extra", Napi::Buffer<uint8_t>::Copy(env, r.out2, r.out2_len));
  return o;
}

Napi::Object trace(Napi::Env env, Engine& e, const Engine::TraceQuery& q) {
  TraceInfo ti;
  std::shared_ptr<const ServiceTable> hold;
  std::shared_ptr<const PolicyTable> pol;
  e.trace(q, ti, hold, pol);
  Napi::Object r = Napi::Object::New(env);
  const char* verdict = ti.verdict == Verdict::kDrop ? "drop" : ti.verdict == Verdict::kReply ? "reject" : "forward";
  if (ti.verdict == Verdict::kReply && ti.reason == Drop::none) verdict = "reply";
  r.Set("verdict", verdict);
  if (ti.reason != Drop::none) r.Set("reason", drop_name(ti.reason));
  r.Set("service", ti.service);
  r.Set("existingFlow", ti.existing_flow);
  // Only said when the fast path is on: whether the kernel would carry the flow's later packets.
  if (e.kernel_cache()) r.Set("cached", ti.cached);
  if (ti.svc) r.Set("servicePort", ti.svc->name);
  if (ti.x.rewrite & kRewriteDst) r.Set("backend", format_endpoint(q.family, ti.x.dst, ti.x.dport));
  if (ti.x.rewrite & kRewriteSrc) r.Set("snat", format_endpoint(q.family, ti.x.src, ti.x.sport));
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

Napi::Array flows(Napi::Env env, const Engine& e, uint32_t limit) {
  uint64_t now = monotonic_ms();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  const KernelCache* cache = e.kernel_cache();
  e.flows().for_each([&](const FlowKey& k, const Translation& x, uint8_t state, uint64_t last, uint8_t proto,
                         bool single, uint32_t idx, uint32_t gen) {
    if (n >= limit || single) return;
    Napi::Object o = Napi::Object::New(env);
    o.Set("protocol", proto == kTCP ? "TCP" : proto == kUDP ? "UDP" : "ICMP");
    o.Set("client", format_endpoint(k.family, k.src, k.sport));
    o.Set("vip", format_endpoint(k.family, k.dst, k.dport));
    // Untranslated (policy-tracked, pod to pod, egress-masqueraded) flows go to their destination.
    bool dnat = x.rewrite & kRewriteDst;
    o.Set("backend", format_endpoint(k.family, dnat ? x.dst : k.dst, dnat ? x.dport : k.dport));
    if (x.rewrite & kRewriteSrc) o.Set("snat", format_endpoint(k.family, x.src, x.sport));
    o.Set("state", flow_state_name(proto, state));
    o.Set("idleMs", double(now > last ? now - last : 0));
    if (cache) o.Set("cached", cache->cached(idx, gen));
    out.Set(n++, o);
  });
  return out;
}

}  // namespace podnet::binding
