// The per-packet pipeline, in order:
//   1. parse            packet.cc     headers, lengths, flow key; malformed -> counted drop
//   2. vnet check       packet.cc     virtio_net_hdr agrees with the packet (GSO, NEEDS_CSUM)
//   3. ICMP errors      icmp.cc       quoted header of a tracked flow translated (PMTUD works)
//   4. flow lookup      pipeline.cc   either direction of an existing flow -> rewrite; a cut
//                                     TCP flow (kReset) -> RST to both ends (reply.cc)
//   5. new flow         new_flow.cc   plan: VIP -> service port -> affinity / Maglev backend,
//                                     NetworkPolicy, SNAT (masquerade, hairpin, egress);
//                                     then commit: flow insert, or drop / reject / echo reply
//   6. reject           reply.cc      VIP with no such port or no backend: RST / ICMP unreachable
//   7. rewrite          rewrite.cc    DNAT / SNAT / reverse NAT with incremental checksums (RFC 1624)
// Traffic that is neither service traffic, egress-masqueraded nor under NetworkPolicy passes
// through unchanged. Runs on engine threads and on the JS thread (Engine.process); never
// allocates or throws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "events.h"
#include "flow_table.h"
#include "local_pods.h"
#include "packet.h"
#include "policy.h"
#include "range_set.h"
#include "service_table.h"
#include "stats.h"
#include "vnet.h"

namespace podnet {

class KernelCache;

enum class Verdict : uint8_t { kForward, kReply, kDrop };

struct Result {
  Verdict verdict;
  Drop reason;        // why it was dropped or rejected (kDrop, kReply); Drop::none otherwise
  const uint8_t* out; // kForward / kReply: packet to write (after the vnet header, if any)
  size_t out_len;
  // A second packet to write after `out`, with a zeroed vnet header: the RST towards the
  // other end of a cut TCP flow (`out` is then the RST back to the sender). In scratch.
  const uint8_t* out2 = nullptr;
  size_t out2_len = 0;
};

// Egress masquerade (EngineOptions.egressMasquerade): pod traffic leaving the cluster gets
// the node's address and a port from [port_lo, port_hi], a range the uplink steers into the TUN.
// Published like the other tables (Engine::set_masquerade_sources), because the node's address
// follows DHCP and `ip addr`; a family without a source is not masqueraded.
struct MasqConfig {
  bool v4 = false, v6 = false;
  Addr src4{}, src6{};
  uint16_t port_lo = 61000, port_hi = 65535;
  std::vector<IpRange> pods4, pods6, exempt4, exempt6;  // sorted, merged
};

struct PipelineEnv {
  FlowTable* flows;
  Addr hairpin4;  // source for a pod that reaches itself through a VIP
  Addr hairpin6;
  EngineCounters* counters;
  Counter* svc_counters;
  uint32_t svc_capacity;
  Counter* be_counters;
  uint32_t be_capacity;
  PolicyCounter* policy_counters;
  uint32_t policy_capacity;
  KernelCache* cache = nullptr;  // the kernel flow cache, when the fast path is on
  // Datapath probe targets (EngineConfig.probe4/6): an echo request to one is answered in
  // place. All-zero: no probe target of that family.
  Addr probe4{};
  Addr probe6{};
  Monitor* monitor = nullptr;  // podnetctl monitor: drops and new flows while one is attached
  bool monitoring() const { return monitor && monitor->on(); }
};

// The published tables one packet is processed against.
struct Tables {
  const ServiceTable& services;
  const PolicyTable& policy;
  const PodTable* pods = nullptr;  // this node's pods, when the fast path is on
  const MasqConfig* masq = nullptr;  // egress masquerade and the SNAT port range; null: none, defaults
};

// Reply buffer a thread owns: the largest generated reply is an ICMPv6 error of 1280 bytes.
// The two RSTs of a cut flow (60 bytes at most each) take its two halves.
constexpr size_t kScratchSize = 2048;

// Processes pkt[0..len). `vh` is the packet's virtio_net_hdr (nullptr when absent); it may be
// rewritten (hdr_len fixed, NEEDS_CSUM cleared on full recomputation, zeroed for replies).
// Replies are built in `scratch` (kScratchSize) or, for echo, in place.
Result process_packet(const PipelineEnv& env, const Tables& t, uint8_t* pkt, size_t len, VnetHdr* vh,
                      uint64_t now_ms, uint8_t* scratch);

// What the pipeline would do with a packet, without doing it: no flow is created, nothing
// counted, nothing rewritten (podnetctl trace). The decision is the data path's own
// (plan_new_flow, new_flow.h), so the two cannot disagree.
struct TraceInfo {
  Verdict verdict;
  Drop reason;            // kDrop, or kReply for a rejection (no_backend, no_service_port,
                          // reset_cut_flow); Drop::none otherwise
  bool existing_flow;     // matched an entry of the flow table
  bool service;           // destination is a VIP
  const ServicePort* svc; // the service port, if any (valid while the table is held)
  Translation x;          // the translation that would apply
  PolicyDecision policy;  // NetworkPolicy's say (allowed, or which set denied)
  bool cached = false;    // a new flow the kernel flow cache would carry after this packet
};
void trace_packet(const PipelineEnv& env, const Tables& t, const uint8_t* pkt, size_t len, uint64_t now_ms,
                  TraceInfo& out);

// Stage 3 (icmp.cc).
Result translate_icmp_error(const PipelineEnv& env, const ServiceTable& st, uint8_t* pkt, const Parsed& p,
                            VnetHdr* vh, uint64_t now_ms);

// Stage 6 (reply.cc). Each returns the reply length in `out`.
size_t build_tcp_rst(const uint8_t* pkt, const Parsed& p, uint8_t* out);
// The RST a cut flow's packet turns into for its receiver: addressed as the flow would have
// translated the packet (`x`), carrying the packet's own sequence and acknowledgement
// numbers, so the receiver accepts it in any state.
size_t build_tcp_rst_onward(const uint8_t* pkt, const Parsed& p, const Translation& x, uint8_t* out);
size_t build_icmp_port_unreachable(const uint8_t* pkt, const Parsed& p, uint8_t* out);
// Turns an echo request into its reply in place; returns its length.
size_t echo_reply_in_place(uint8_t* pkt, const Parsed& p);

// Stage 7 (rewrite.cc): rewrites one side (source or destination) address and port.
void rewrite(uint8_t* pkt, const Parsed& p, VnetHdr* vh, bool dst, const Addr& addr, uint16_t port);
// Applies a flow entry's translation (either or both sides).
inline void translate(uint8_t* pkt, const Parsed& p, VnetHdr* vh, const Translation& x) {
  if (x.rewrite & kRewriteSrc) rewrite(pkt, p, vh, false, x.src, x.sport);
  if (x.rewrite & kRewriteDst) rewrite(pkt, p, vh, true, x.dst, x.dport);
}

// Result and counter helpers shared by the stages.
inline Result forward_packet(uint8_t* pkt, size_t len) { return Result{Verdict::kForward, Drop::none, pkt, len}; }
inline Result count_drop(const PipelineEnv& env, Drop d) {
  env.counters->drop(d);
  return Result{Verdict::kDrop, d, nullptr, 0};
}
inline void count_packet(const PipelineEnv& env, uint32_t svc_slot, uint32_t be_slot, size_t bytes) {
  if (svc_slot < env.svc_capacity) env.svc_counters[svc_slot].add(bytes);
  if (be_slot < env.be_capacity) env.be_counters[be_slot].add(bytes);
}
inline void count_flow(const PipelineEnv& env, uint32_t svc_slot, uint32_t be_slot) {
  if (svc_slot < env.svc_capacity) env.svc_counters[svc_slot].flows.fetch_add(1, std::memory_order_relaxed);
  if (be_slot < env.be_capacity) env.be_counters[be_slot].flows.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace podnet
