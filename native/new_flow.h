// Stage 5 of the pipeline: the first packet of a flow, in two steps.
//
//   plan_new_flow()    decides and changes nothing: service lookup, backend (ClientIP
//                      affinity, else Maglev), NetworkPolicy verdict, SNAT address and port.
//                      The packet path and trace_packet (podnetctl trace) both call it, so
//                      a trace cannot disagree with what the data path then does.
//   commit_new_flow()  carries a plan out: counters, the affinity record, the SNAT port
//                      takeover, the flow insert, the rewrite, or the drop / reply.
//
// A plan is only valid for the packet and the published tables it was made from, on the
// thread that made it, until its commit.
#pragma once
#include <cstddef>
#include <cstdint>

#include "flow_table.h"
#include "packet.h"
#include "pipeline.h"
#include "policy.h"
#include "service_table.h"

namespace podnet {

enum class PlanAction : uint8_t {
  kPass,    // not a flow the engine translates: forward unchanged (counted as passthrough)
  kDrop,    // counted drop (`reason`); a NetworkPolicy denial when !policy.allow
  kReject,  // VIP with no such port or no backend: RST / ICMP port unreachable (`reason`)
  kEcho,    // ping to a VIP: answered in place
  kAdmit,   // a new flow: insert `flow`, translate the packet, forward it
};

enum class FlowKind : uint8_t {
  kService,     // client -> VIP, DNAT to a backend (and SNAT when masqueraded)
  kMasquerade,  // pod traffic leaving the cluster, SNAT to the node address
  kTracked,     // pod traffic under NetworkPolicy, untranslated, kept so replies pass
};

// A flow-table record the commit must act on, by index and generation.
struct FlowRef {
  uint32_t idx = UINT32_MAX;
  uint32_t gen = 0;
  bool valid() const { return idx != UINT32_MAX; }
};

// Where the kernel flow cache delivers each direction of an admitted flow (kernel_cache.h):
// both ends pods on this node (client and server set); or one end a pod here and the other
// off-node (uplinks set, with the server for a flow from off-node: NodePort, LB IP,
// externalIP, another node's pod; with the client for a flow leaving: egress masquerade, a
// Service backend or a pod on another node, an outside server). The direction towards the pod
// enters by any uplink (the VXLAN device counts as one), the other leaves where the kernel's
// FIB says. Or neither end here (uplinks only): a service flow passing through, both
// directions entering by any uplink and leaving by the FIB. Unset when the fast path is off or
// the flow is not cacheable. Valid while the pod table the plan was made from is held.
struct CacheRoute {
  const LocalPod* client = nullptr;  // the forward direction enters here, the reverse leaves here
  const LocalPod* server = nullptr;  // the forward direction leaves here, the reverse enters here
  const PodTable* uplinks = nullptr; // an end off-node: the uplinks and their MTU
  bool ok() const { return uplinks ? !(client && server) : client && server; }
  bool from_outside() const { return uplinks && server && !client; }
  bool to_outside() const { return uplinks && client && !server; }
  bool passing_through() const { return uplinks && !client && !server; }
};

struct FlowPlan {
  PlanAction action = PlanAction::kPass;
  Drop reason = Drop::none;
  FlowKind kind = FlowKind::kService;
  const ServicePort* svc = nullptr;  // the VIP's service port, if any
  const Backend* be = nullptr;       // the chosen backend
  bool policy_checked = false;       // `policy` was decided and must be counted
  PolicyDecision policy;
  NewFlow flow{};                    // kAdmit: the records to insert; flow.fwd_x is the translation
  bool insert = false;               // kAdmit: whether a record is kept at all (kTracked: only if needed)
  // ClientIP affinity bookkeeping, done by the commit whatever the verdict once a backend is chosen.
  FlowRef affinity_stale;            // record naming a backend that left or terminates: remove
  bool affinity_touch = false;       // record found and used: refresh it
  FlowHit affinity_hit{};
  bool affinity_insert = false;      // first connection of this client: record the choice
  NewFlow affinity{};
  FlowRef snat_takeover;             // closed TCP flow holding the SNAT reverse key: remove
  CacheRoute cache;                  // kAdmit: cache the flow in the kernel after the insert
  bool probe = false;                // kEcho: the datapath probe (counted as probe_reply)
};

// Decides what the first packet `p` of a flow gets; reads the tables and the flow table only.
// The data path calls it for a packet that matched no flow (or only a cut flow it reopens).
FlowPlan plan_new_flow(const PipelineEnv& env, const Tables& t, const Parsed& p, uint64_t now_ms);

// Carries out `plan` for the packet it was made from. Engine threads; never allocates.
Result commit_new_flow(const PipelineEnv& env, const Tables& t, const FlowPlan& plan, uint8_t* pkt, const Parsed& p,
                       VnetHdr* vh, uint64_t now_ms, uint8_t* scratch);

// The packet is podnetd's datapath probe: an echo request to PipelineEnv.probe4/6.
bool is_probe(const PipelineEnv& env, const Parsed& p);

// State of a flow created by this packet.
uint8_t initial_state(const Parsed& p);

}  // namespace podnet
