// The control API's JSON: what podnetd serves on its unix socket and what `podnetctl --json`
// prints, unchanged. This file is the documentation of that contract: fields are only ever
// added (never renamed or removed) within apiVersion "podnet/v1". It imports nothing: podnetd
// maps the engine's objects onto these types field by field (src/daemon/control-api.ts), so a
// change in the engine cannot change the wire without a change here. The monitor stream's
// events are the one part in a file of its own (api-monitor.ts), under the same rules.

export const API_VERSION = 'podnet/v1';

/** A transport protocol a service port or a trace names. */
export type WireProtocol = 'TCP' | 'UDP';

/** GET /v1/status */
export interface StatusReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** The daemon process. */
  podnetd: DaemonStatus;
  /** The packet engine and its TUN. */
  engine: EngineStatus;
  /** The services control plane's sync state. */
  sync: SyncStatus;
  /** The node's pod CIDRs, service CIDRs and uplinks in use, and where each came from (absent from older podnetd). */
  network?: NetworkStatus;
  /** The kernel flow cache (absent from older podnetd). */
  fastPath?: FastPathWireStatus;
  /** The datapath probe behind /livez; absent when it is off (health.probe.enabled false) or not started yet. */
  probe?: ProbeStatus;
}

/** StatusReply.fastPath: whether admitted flows to local pods bypass the TUN, and how much. */
export interface FastPathWireStatus {
  /** on: loaded and attached to the pods' veths; off: not configured or not possible (reason). */
  mode: 'on' | 'off';
  reason?: string;
  /** tcx, clsact, or none before the first pod. */
  attachMode?: string;
  pinDir?: string;
  /** Pods whose veth runs the program. */
  pods?: number;
  /** ifindexes of the devices the program is attached to (as its pins record them). */
  attachedTo?: number[];
  /** ifindexes of the uplinks flows from off-node (NodePort, LB IP, externalIP) are cached at. */
  uplinks?: number[];
  /** Cached entries (one per direction) after the last sweep. */
  entries?: number;
  /** Flows written into the cache, and writes that failed (map full). */
  installs?: number;
  installErrors?: number;
  /** Entries removed: flows cut, closed, expired or of a deleted pod. */
  removed?: number;
  /** Packets the program forwarded itself, fell through to the TUN (miss), or left to the engine by rule (punt), and anti-spoofing drops. */
  hits?: number;
  misses?: number;
  punts?: number;
  spoofDrops?: number;
  /** The program's counters by name (hit_peer, punt_tcp_syn, ...). */
  program?: Record<string, number>;
}

/** StatusReply.probe: podnetd pings its probe addresses through the TUN and the engine threads. */
export interface ProbeStatus {
  /** /livez answers 200: fewer than `failures` missed rounds in a row. */
  live: boolean;
  /** ms between rounds; a ping unanswered after timeoutMs is missed; `failures` missed rounds in a row fail /livez. */
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  /** Rounds missed in a row now. */
  consecutiveMisses: number;
  /** Rounds since start, and how many of them missed. */
  rounds: number;
  missedRounds: number;
  /** ISO time of the last answered round ("" before the first). */
  lastOk: string;
  /** The last round, per probe address: the round trip in ms, or absent when missed (with the error, if one). */
  targets: ProbeTargetStatus[];
}

/** ProbeStatus.targets */
export interface ProbeTargetStatus {
  address: string;
  rttMs?: number;
  error?: string;
}

/** StatusReply.network */
export interface NetworkStatus {
  /** The pod CIDRs of this node: "config" or "Node <name>". */
  podCIDRs: SettingStatus;
  /** The service CIDRs routed into the TUN: "config", "ServiceCIDR <names>" or "kubeadm default". */
  serviceCIDRs: SettingStatus;
  /** The links external traffic is steered from: "config", "InternalIP <ips>", "default route" or "none (...)". */
  uplinks: SettingStatus;
  /** The uplinks' global addresses now (they follow address changes). */
  uplinkAddresses: string[];
  /** Egress masquerade's source per family now (absent: off); the unpinned ones follow the uplinks. */
  egressSources?: string[];
}

/** One setting in use and where it came from. */
export interface SettingStatus {
  values: string[];
  source: string;
}

/** StatusReply.podnetd */
export interface DaemonStatus {
  /** Process id of podnetd. */
  pid: number;
  /** The Kubernetes node this podnetd serves. */
  nodeName: string;
  /** "manifests:/dir", "kubeconfig:/path", "kubeconfig:in-cluster" or "tables:/file". */
  source: string;
  /** ISO time podnetd started. */
  startedAt: string;
  /** Seconds since startedAt, rounded. */
  uptimeSec: number;
  /** The first sync is programmed and the TUN attached. */
  ready: boolean;
  /** /healthz would answer 200. */
  healthy: boolean;
}

/** StatusReply.engine */
export interface EngineStatus {
  /** TUN device name ("" before it is attached). */
  tun: string;
  /** Offloads the kernel accepted on the TUN: csum, tso4, tso6, ecn, uso4, uso6. */
  offloads: string[];
  /** How packets pick a queue when there are several: by sending CPU, or by flow hash. */
  steering: 'cpu' | 'flow';
  /** Version of the service table the engine runs. */
  tableVersion: number;
  /** The flow table was restored from the state file at start. */
  restoredFlows: boolean;
  /** The flow table's occupancy and lifetime counters. */
  flows: FlowTableStatus;
  /** Dropped packets by reason (truncated, no_backend, policy_ingress, ...); only reasons with drops. */
  drops: Record<string, number>;
  /** Packets passed through unchanged (not service traffic). */
  passthrough: number;
  /** Per TUN queue counters, by queue number. */
  queues: QueueStatus[];
}

/** EngineStatus.flows */
export interface FlowTableStatus {
  /** Flows in the table now. */
  active: number;
  /** Flow records the table holds at most. */
  capacity: number;
  /** Flows created since podnetd started. */
  created: number;
  /** Flows removed after their idle timeout. */
  expired: number;
  /** Flows pushed out to make room for new ones. */
  evicted: number;
}

/** One TUN queue (one engine thread). */
export interface QueueStatus {
  /** Queue number, from 0. */
  queue: number;
  /** Packets read from the TUN. */
  packetsIn: number;
  /** Packets written to the TUN. */
  packetsOut: number;
  /** Bytes read from the TUN. */
  bytesIn: number;
  /** Wake-ups from poll(). */
  wakeups: number;
  /** Packets read as a GSO super-packet. */
  gsoPackets: number;
  /** Failed reads. */
  readErrors: number;
  /** Failed writes. */
  writeErrors: number;
  /** Packets read while busy polling (not after a poll() wake-up). */
  busyPolled: number;
}

/** StatusReply.sync */
export interface SyncStatus {
  /** The source has delivered its initial state. */
  initialized: boolean;
  /** Services known to the control plane. */
  services: number;
  /** EndpointSlices known to the control plane. */
  endpointSlices: number;
  /** Service ports programmed into the engine. */
  servicePorts: number;
  /** Backends over all programmed service ports. */
  backends: number;
  /** Changes waiting for the next sync. */
  pending: number;
  /** ISO time of the last successful sync ("" before the first). */
  lastUpdated: string;
  /** The last sync attempt; absent before the first. */
  lastSync?: SyncReportStatus;
}

/** SyncStatus.lastSync */
export interface SyncReportStatus {
  /** A full resync rather than a partial one. */
  full: boolean;
  /** Service ports written. */
  upserts: number;
  /** Service ports removed. */
  removes: number;
  /** How long the sync took, in milliseconds (3 decimals). */
  durationMs: number;
  /** Why it failed; absent when it succeeded. */
  error?: string;
}

export interface BackendEntry {
  /** The backend's address. */
  ip: string;
  /** The backend's port. */
  port: number;
  /** The pod (EndpointSlice targetRef) or label given to the engine. */
  name?: string;
  /** Keeps its flows but takes no new ones. */
  terminating: boolean;
  /** Share of new flows, relative: 1 for every active backend (Maglev, equal weights), 0 when terminating. */
  weight: number;
  /** Packets the engine forwarded to it. */
  packets: number;
  /** Bytes the engine forwarded to it. */
  bytes: number;
  /** Flows the engine sent to it. */
  flows: number;
}

/** One service port, as the control plane programmed it and the engine counts it. */
export interface ServiceEntry {
  /** "namespace/service:portName". */
  name: string;
  /** The address clients connect to. */
  vip: string;
  /** The port clients connect to. */
  port: number;
  /** TCP or UDP. */
  protocol: WireProtocol;
  /** ClientIP session affinity timeout in seconds; 0 = none. */
  affinityTimeoutSec: number;
  /** Source address new flows get (externalTrafficPolicy Cluster); absent: the client keeps its own. */
  masquerade?: string;
  /** Packets of this service port's flows. */
  packets: number;
  /** Bytes of this service port's flows. */
  bytes: number;
  /** Flows created for this service port. */
  flows: number;
  /** Its backends, in the programmed order. */
  backends: BackendEntry[];
}

/** GET /v1/services */
export interface ServicesReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** Version of the service table the engine runs. */
  tableVersion: number;
  /** Every programmed service port, sorted by name, VIP, port. */
  services: ServiceEntry[];
}

/** One connection in the engine's flow table. */
export interface FlowEntry {
  /** TCP, UDP or ICMP (echo). */
  protocol: WireProtocol | 'ICMP';
  /** The client's "ip:port" ("[ip]:port" for IPv6). */
  client: string;
  /** The VIP's "ip:port" the client connected to. */
  vip: string;
  /** The backend's "ip:port" the flow is translated to. */
  backend: string;
  /** The masqueraded source "ip:port" when the flow is SNATed; absent otherwise. */
  snat?: string;
  /** TCP: SYN_SENT, ESTABLISHED, FIN_WAIT, TIME_WAIT, CLOSE, RESET (cut, RSTs pending); UDP: UNREPLIED, REPLIED. */
  state: string;
  /** Milliseconds since the flow's last packet (as of the last sweep when the kernel carries it). */
  idleMs: number;
  /** With the fast path on: the kernel flow cache carries the flow's packets. */
  cached?: boolean;
}

/** GET /v1/flows?vip=&client=&backend=&protocol=&limit= (vip/client/backend: "ip" or "ip:port"). */
export interface FlowsReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** Flows matching the filter (up to limit). */
  flows: FlowEntry[];
  /** Flows in the table (before filtering). */
  active: number;
  /** More flows matched than were returned. */
  truncated: boolean;
}

/** TraceReply.query: the connection asked about, as podnetd understood it. */
export interface TraceQueryEntry {
  /** Client address. */
  from: string;
  /** Destination address (a VIP or any other). */
  to: string;
  /** Destination port. */
  port: number;
  /** TCP or UDP. */
  protocol: WireProtocol;
  /** Client port (default 40000): it matters for Maglev's choice and existing flows. */
  sourcePort: number;
}

/** TraceReply.result: what the engine would do with the connection's first packet. */
export interface TraceResultEntry {
  /** forward: passes (translated when a backend is named); reject: RST / ICMP unreachable; reply: answered by the engine; drop. */
  verdict: 'forward' | 'reject' | 'reply' | 'drop';
  /** Why it is rejected or dropped (no_backend, no_service_port, policy_ingress, ...). */
  reason?: string;
  /** The destination is a VIP. */
  service: boolean;
  /** The connection already exists in the flow table. */
  existingFlow: boolean;
  /** The service port's name, when one matches. */
  servicePort?: string;
  /** The backend "ip:port" it goes (or would go) to. */
  backend?: string;
  /** The masqueraded source "ip:port", when SNAT applies. */
  snat?: string;
  /** The policies isolating the end that no rule allows (when denied). */
  deniedBy?: string[];
  /** The NetworkPolicy whose rule allows the flow (when an end is isolated). */
  allowedBy?: string;
  /** With the fast path on: whether the kernel flow cache carries the flow after its first packets. */
  cached?: boolean;
  /** Human sentence: why this verdict. */
  explanation: string;
}

/** GET /v1/trace?from=IP&to=IP&port=N&protocol=TCP|UDP[&sourcePort=N] */
export interface TraceReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** The connection traced. */
  query: TraceQueryEntry;
  /** The engine's verdict and why. */
  result: TraceResultEntry;
  /** Always true: the answer is the engine's own dry run of its packet path (kept, as podnet/v1 never removes a field). */
  engineTrace: boolean;
}

/** One direction (ingress or egress) of a pod, as the programmed policy tables isolate it. */
export interface PolicyDirectionEntry {
  /** false: no policy selects the pod for this direction; everything passes. */
  isolated: boolean;
  /** "namespace/name" of every policy isolating the pod in this direction (empty when not isolated). */
  isolatedBy: string[];
  /**
   * What passes, one line per rule ("ns/policy: peers CIDR[ except CIDR…],… ports PROTO/PORT[-END],…",
   * src/policy/explain.ts renderRule). Isolated with no rules: every new flow is denied.
   */
  rules: string[];
}

/** One pod on this node and what isolates it. */
export interface PodPolicyEntry {
  /** "namespace/name". */
  name: string;
  /** The pod's addresses. */
  ips: string[];
  /** What isolates its incoming traffic. */
  ingress: PolicyDirectionEntry;
  /** What isolates its outgoing traffic. */
  egress: PolicyDirectionEntry;
}

/** One NetworkPolicy's engine counters (new flows, since podnetd started). */
export interface PolicyCounterEntry {
  /** "namespace/name". */
  policy: string;
  /** New flows whose first matching rule came from this policy. */
  allowed: number;
  /** New flows denied where this policy isolated the denied end, per direction. */
  denied: { ingress: number; egress: number };
  /** Listed pods this policy isolates (either direction). */
  isolates: string[];
}

/** PoliciesReply.summary: sizes of the whole programmed policy table. */
export interface PolicyTableSummary {
  /** Pods of this node in the table. */
  pods: number;
  /** Of those, pods isolated in at least one direction. */
  isolated: number;
  /** Distinct rule sets. */
  ruleSets: number;
  /** Rules over all rule sets. */
  rules: number;
  /** Peers over all rules. */
  peers: number;
}

/** GET /v1/policies[?pod=NAME|NAMESPACE/NAME|IP] */
export interface PoliciesReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** false: podnetd has no NetworkPolicy source (tables mode); nothing is enforced and `pods` is empty. */
  enforcing: boolean;
  /** Why the list is empty or partial (no policy source, no table yet, no such pod). */
  note?: string;
  /** The engine's policy table version (0: none published). */
  tableVersion: number;
  /** Sizes of the whole programmed policy table (src/policy/explain.ts tableSizes), whatever the filter. */
  summary: PolicyTableSummary;
  /** Pods on this node (matching ?pod=), sorted by name. */
  pods: PodPolicyEntry[];
  /** Policies that isolate the listed pods or appear in their rules (all with counters when unfiltered), sorted. */
  policies: PolicyCounterEntry[];
}

/** One node as this node's cross-node routing sees it. */
export interface ClusterNodeEntry {
  /** The Node object's name. */
  name: string;
  /** Its spec.podCIDRs, canonical. */
  podCIDRs: string[];
  /** Its InternalIP addresses. */
  internalIPs: string[];
  /** self (this node), programmed, skipped (not routable: see reason) or pending (no sync yet). */
  state: 'self' | 'programmed' | 'skipped' | 'pending';
  /** Why a node (or one of its pod CIDRs) is not routed. */
  reason?: string;
  /** What this node programmed for it: "route …", "fdb …", "neigh …" lines. */
  entries: string[];
}

/** GET /v1/cluster */
export interface ClusterReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** cluster.mode: none (podnetd programs nothing between nodes), routed or vxlan. */
  mode: 'none' | 'routed' | 'vxlan';
  /** This node's name. */
  node: string;
  /** The MTU pods on this node get (VXLAN overhead taken off), when known. */
  podMtu?: number;
  /** Wall-clock ms of the last sync. */
  lastSyncAt?: number;
  /** The last sync's error, when it failed (the entries of the sync before stay in place). */
  error?: { code: string; message: string };
  /** This node first, then the others by name. */
  nodes: ClusterNodeEntry[];
}

/** Any non-2xx answer. */
export interface ErrorReply {
  /** Always API_VERSION. */
  apiVersion: typeof API_VERSION;
  /** A stable code (DAEMON_BAD_REQUEST, DAEMON_INTERNAL, ENGINE_BAD_…) and a human message. */
  error: { code: string; message: string };
}
