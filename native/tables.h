// Every data-plane table in one place: key, value, bound, who writes it.
//
// ServiceTable (service_table.h)      immutable version, published atomically (RCU style)
//   key   (family, VIP, port, protocol)
//   value ServicePort: backends (active first, then terminating), Maglev table over the
//         active ones, ClientIP affinity timeout, masquerade address, source ranges,
//         counter slots
//   also  VIP address -> how many service ports own or share it (VipUse): traffic to an
//         owned VIP on an undefined port is rejected, a shared one (a node address that
//         only carries NodePorts) passes to the host
//   bound maxServicePorts service ports (counter slots); each port's Maglev ring is the
//         smallest prime of a ladder from 251 up to maglevSize (default 16381) that holds
//         100 x its active backends (maglev_size_for, engine.cc)
//   owner the JS thread builds a new version per apply(); engine threads only read
//
// PolicyTable (policy.h)              immutable version, published atomically like the above
//   key   pod address -> PodPolicy: ingress / egress rule set (or not isolated), name
//   value RuleSet: port classes (protocol + port range), each with the merged peer ranges
//         (range_set.h) or "any peer"; the names of the policies isolating it
//   also  the node's own addresses (pod <-> node traffic is always allowed)
//   bound what the control plane sends; a first packet costs O(classes x log ranges)
//   owner the JS thread compiles a PolicySpec per setPolicy() (policy_build.cc); engine
//         threads only read; set_policy() then cuts established flows it no longer allows
//
// FlowTable (flow_table.h)            shared by all engine threads, striped spinlocks
//   key   FlowKey of one direction as it appears on the wire (both directions indexed):
//           forward  client -> VIP      rewrite dst to the backend (and src when masqueraded)
//           reverse  backend -> client  rewrite src to the VIP (and dst when masqueraded)
//           affinity (client, VIP:port) with proto kAffinity -> the backend, ClientIP affinity
//           egress   pod -> outside     rewrite src to the node address (egress masquerade)
//           tracked  pod <-> pod        no rewrite: replies of a flow NetworkPolicy allowed
//   value the translation, the flow record (state, last seen, counter slots, RecordUse)
//   bound flowCapacity records, fixed arrays allocated once (or mapped from the state
//         file, state_file.h); under pressure the clock hand evicts an expired record,
//         else the oldest of a short scan
//   owner engine threads insert (commit_new_flow) and update; the GC pass and the control
//         plane remove. A cut (backend purged by apply(), set_policy denies) removes
//         UDP/ICMP flows at once and marks TCP flows kReset: their next packet becomes a RST
//         to both ends, the GC removes them tcp_close_ms after the cut
//
// Counter slots (stats.h Counter, policy.h PolicyCounter)   fixed arrays indexed by slot
//   key   service port slot, backend slot, policy slot (by policy name, stable)
//   value packets, bytes, flows / allowed, denied per direction
//   bound maxServicePorts service ports, 4 x maxServicePorts backends, 65536 policies
//   owner apply() / set_policy() allocate slots on the JS thread; engine threads add with
//         relaxed atomics; readers want totals, not a consistent snapshot
//
// Egress masquerade (pipeline.h MasqConfig)   immutable version, published atomically like the above
//   key   pod CIDRs (sources) and exempt CIDRs (destinations), sorted merged range sets
//   value the node address per family, the SNAT port range the uplink steers into the TUN
//   owner the Engine constructor; set_masquerade_sources() on the JS thread publishes new
//         sources when the node's address moves and cuts the flows masqueraded to the old one
#pragma once
#include "flow_table.h"
#include "pipeline.h"
#include "policy.h"
#include "service_table.h"
#include "stats.h"
