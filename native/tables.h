// Every data-plane table in one place: key, value, bound, who writes it.
//
// ServiceTable (service_table.h)      immutable version, published atomically (RCU style)
//   key   (family, VIP, port, protocol)
//   value ServicePort: backends (active first, then terminating), Maglev table over the
//         active ones, ClientIP affinity timeout, counter slots
//   bound maxServicePorts (counter slots); Maglev size M per port (prime, default 4093)
//   owner the JS thread builds a new version per apply(); engine threads only read
//   also  the set of VIP addresses, so traffic to a VIP on an undefined port is rejected
//
// FlowTable (flow_table.h)            shared by all engine threads, striped spinlocks
//   key   FlowKey of one direction as it appears on the wire (both directions indexed):
//           forward  client -> VIP      rewrite dst to the backend
//           reverse  backend -> client  rewrite src to the VIP
//           affinity (client, VIP:port) with proto 255 -> the backend, ClientIP affinity
//   value the translation, the flow record (state, last seen, counter slots)
//   bound flowCapacity records, fixed arrays allocated once; under pressure the clock
//         hand evicts an expired record, else the oldest of a short scan
//   owner engine threads insert/update; the GC pass and apply() (purge) remove. A cut
//         (backend purged, set_policy denies) removes UDP/ICMP flows at once and marks TCP
//         flows kReset: their next packet becomes a RST to both ends, the GC removes them
//         tcp_close_ms after the cut
//
// Counter slots (stats.h Counter)     fixed arrays indexed by slot
//   service ports: maxServicePorts; backends: 4 x maxServicePorts
//   owner apply() allocates/free slots; engine threads add with relaxed atomics
#pragma once
#include "flow_table.h"
#include "service_table.h"
#include "stats.h"
