// The engine's JavaScript contract: what the control plane programs and what it reads back.
// The native side (native/binding/, with native/options.cc for the small inputs) validates
// every field and throws a coded EngineError.

export type Protocol = 'TCP' | 'UDP';

/** One endpoint behind a service port. */
export interface BackendSpec {
  /** IPv4 or IPv6 literal, same family as the VIP. */
  ip: string;
  port: number;
  /** Terminating: keeps its established flows but takes no new ones. */
  terminating?: boolean;
  /** Free-form label for stats, e.g. the pod name. */
  name?: string;
}

/** Identity of a service port in the engine: (VIP, port, protocol). */
export interface ServicePortKey {
  vip: string;
  port: number;
  protocol: Protocol;
}

/** A service port as the engine load-balances it. */
export interface ServicePortSpec extends ServicePortKey {
  /** Backends for new flows (Maglev) plus terminating ones kept for their flows. */
  backends: BackendSpec[];
  /** ClientIP session affinity timeout in seconds; 0 or absent = none. */
  affinityTimeoutSec?: number;
  /** "namespace/service:portName" for stats and logs. */
  name?: string;
  /**
   * Source address for new flows (masquerade), e.g. for external traffic with
   * externalTrafficPolicy Cluster: the backend answers to it and the engine restores the
   * client. Must route back into the engine. Absent: the client keeps its address.
   */
  masquerade?: string;
  /**
   * loadBalancerSourceRanges: only clients in these CIDRs may start flows; others are dropped
   * (counted as source_range). Absent or empty = any client.
   */
  sourceRanges?: string[];
  /**
   * What a new flow gets when no backend is eligible: 'reject' (default: TCP RST / ICMP port
   * unreachable) or 'drop' (kube-proxy's choice for internalTrafficPolicy / externalTrafficPolicy
   * Local without local endpoints).
   */
  noEndpoints?: 'reject' | 'drop';
  /**
   * The VIP is an address the host uses too (a node address carrying NodePorts): traffic to its
   * other ports and protocols passes through untouched instead of being rejected.
   */
  sharedAddress?: boolean;
}

/** A change to the engine's service table, applied atomically as one new table version. */
export interface TableDelta {
  upsert?: ServicePortSpec[];
  remove?: ServicePortKey[];
}

export interface ApplyResult {
  version: number;
  servicePorts: number;
  /** Flows cut because their backend left its service (UDP always; TCP when the backend is gone entirely). */
  flowsPurged: number;
}

export interface EngineTimeouts {
  tcpSynSec?: number;
  tcpEstablishedSec?: number;
  tcpFinSec?: number;
  tcpTimeWaitSec?: number;
  tcpCloseSec?: number;
  udpSec?: number;
  udpStreamSec?: number;
  icmpSec?: number;
}

export interface EngineOptions {
  /** Flow records (each holds both directions). Default 262144. */
  flowCapacity?: number;
  /**
   * Largest Maglev ring per service port; must be prime. Default 16381. Each service port gets
   * the smallest of 251, 509, 1021, 2039, 4093, 8191, 16381, ... that is >= 100 x its active backends
   * (Maglev's disruption bound), capped by this value.
   */
  maglevSize?: number;
  /** Service ports the counters have room for. Default 65536. */
  maxServicePorts?: number;
  timeouts?: EngineTimeouts;
  /**
   * File holding the flow table (e.g. /run/podnet/flows, mode 0600). Flows survive a restart of
   * the process: a new engine on the same file resumes every connection. Absent: memory only.
   */
  stateFile?: string;
  /**
   * Source given to a pod that reaches itself through a VIP (hairpin), so its reply returns
   * through the engine. Not local to the node; routed into the TUN like all pod traffic.
   * Defaults 169.254.42.1 and fd00:a9fe:2a::1.
   */
  hairpinIPv4?: string;
  hairpinIPv6?: string;
  /**
   * Datapath probe targets: an ICMP echo request to one, read from the TUN, is answered by the
   * engine thread that read it (counted as replies.probe_reply). podnetd routes them into the
   * TUN and pings them (src/probe/). Defaults 169.254.42.2 and fd00:a9fe:2a::2.
   */
  probeIPv4?: string;
  probeIPv6?: string;
  /** Masquerade of pod traffic leaving the cluster (the reference bridge's ipMasq), done by the engine. */
  egressMasquerade?: EgressMasquerade;
}

export interface EgressMasquerade {
  /** Sources whose traffic is masqueraded: the node's pod CIDRs. */
  podCIDRs: string[];
  /** Destinations that keep the pod's address: cluster pod CIDRs, service CIDRs, node networks... */
  exemptCIDRs: string[];
  /** The node address to use (per family); a family without one is not masqueraded. */
  sourceIPv4?: string;
  sourceIPv6?: string;
  /**
   * Source ports for masqueraded flows, inclusive. Replies to them must be steered into the TUN
   * (tc on the uplink), so the range must not overlap the node's ip_local_port_range or its
   * NodePort range. Default 61000-65535.
   */
  portMin?: number;
  portMax?: number;
}

/** Engine.setEgressSources: the egress masquerade's node address per family, now. */
export interface EgressSources {
  sourceIPv4?: string;
  sourceIPv6?: string;
}

export interface TunOptions {
  /** TUN device name, e.g. "podnet-tun". Created if absent. */
  name: string;
  /** Queues (IFF_MULTI_QUEUE), one engine thread each. Default 1. */
  queues?: number;
  /** Max packets handled per wake-up. Default 64. */
  batch?: number;
  /** After traffic, keep reading this many µs before sleeping in poll (0 = never spin). Default 0. */
  busyPollUs?: number;
  /** Keep the device when the engine closes (TUNSETPERSIST). Default false. */
  persist?: boolean;
  /**
   * With more than one queue: "cpu" (default) puts a packet into the queue of the CPU sending it
   * (a steering program on the device) and pins each queue's thread to its CPUs; "flow" leaves
   * the choice to the kernel's flow hash.
   */
  steering?: 'cpu' | 'flow';
}

export interface TunInfo {
  name: string;
  ifindex: number;
  queues: number;
  /** The steering in force: "flow" when "cpu" was asked for and the device refused it. */
  steering: 'cpu' | 'flow';
  /** Why the steering asked for is not in force (no BPF permission, an old kernel). */
  steeringError?: string;
  /** Offloads the kernel accepted: csum, tso4, tso6, ecn, uso4, uso6. */
  offloads: string[];
}

export type Verdict = 'forward' | 'reply' | 'drop';

export interface ProcessOptions {
  /** The buffer starts with a 10-byte virtio_net_hdr, as read from the TUN. */
  vnetHdr?: boolean;
  /** Engine clock in milliseconds, for timeout tests. Default: the real monotonic clock. */
  nowMs?: number;
}

export interface ProcessResult {
  verdict: Verdict;
  /** Drop reason (see EngineStats.drops keys). */
  reason?: string;
  /** forward: the (possibly rewritten) packet; reply: the generated RST / ICMP / echo reply. */
  packet?: Buffer;
  /**
   * A second packet to write (never with a virtio_net_hdr): for a packet of a cut TCP flow
   * (reason 'reset_cut_flow') `packet` is the RST back to its sender and this the RST to the
   * other end, addressed as the flow translates (a client sees the VIP).
   */
  extra?: Buffer;
}

export interface CounterSet {
  packets: number;
  bytes: number;
  flows: number;
}

export interface BackendStats extends CounterSet {
  ip: string;
  port: number;
  terminating: boolean;
}

export interface ServicePortStats extends ServicePortKey, CounterSet {
  name: string;
  backends: BackendStats[];
}

export interface QueueStats {
  queue: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  wakeups: number;
  gsoPackets: number;
  readErrors: number;
  writeErrors: number;
  /** Packets read while busy polling (not after a poll() wake-up). */
  busyPolled: number;
}

export interface EngineStats {
  version: number;
  /** The flow table was restored from stateFile. */
  restoredFlows: boolean;
  flows: { active: number; capacity: number; created: number; expired: number; evicted: number };
  /**
   * Drops by reason: truncated, bad_ip_header, bad_length, ..., no_backend, ...;
   * reset_cut_flow: packets of cut TCP flows (backend gone, policy denies) answered with a
   * RST to both ends instead of being forwarded.
   */
  drops: Record<string, number>;
  /** Packets passed through unchanged (not service traffic). */
  passthrough: number;
  /** Replies generated: rst, icmp_unreachable, echo_reply, probe_reply. */
  replies: Record<string, number>;
  services: ServicePortStats[];
  queues: QueueStats[];
}

export interface FlowInfo {
  protocol: 'TCP' | 'UDP' | 'ICMP';
  client: string;      // ip:port
  vip: string;         // ip:port
  backend: string;     // ip:port
  /** The masqueraded source (ip:port) when the flow is SNATed. */
  snat?: string;
  /** TCP: SYN_SENT, ESTABLISHED, FIN_WAIT, TIME_WAIT, CLOSE, RESET (cut, RSTs pending); UDP: UNREPLIED, REPLIED. */
  state: string;
  idleMs: number;
  /** With the fast path on: the kernel flow cache carries the flow. */
  cached?: boolean;
}

/** A connection to ask the engine about (podnetctl trace). */
export interface TraceQuery {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  /** Client port; default 40000. It matters for Maglev's choice and existing flows. */
  sourcePort?: number;
}

export interface TraceResult {
  /** forward: passes (translated when a backend is named); reject: RST / ICMP unreachable; reply: answered by the engine; drop. */
  verdict: 'forward' | 'reject' | 'reply' | 'drop';
  /** Why it is rejected or dropped (no_backend, no_service_port, ...). */
  reason?: string;
  /** The destination is a VIP. */
  service: boolean;
  /** The service port's name, when one matches. */
  servicePort?: string;
  /** The connection already exists in the flow table. */
  existingFlow: boolean;
  /** The endpoint it goes (or would go) to. */
  backend?: string;
  /** The masqueraded source, when SNAT applies. */
  snat?: string;
  /** The NetworkPolicy whose rule allows the flow (when an end is isolated). */
  allowedBy?: string;
  /** The policies isolating the end that no rule allows (when denied). */
  deniedBy?: string[];
  /** With the fast path on: whether the kernel flow cache carries the flow after its first packet. */
  cached?: boolean;
}

/** Engine.enableFastPath: where the kernel flow cache pins its maps and program links. */
export interface FastPathOptions {
  /** A directory on a mounted bpffs (podnet pins under podnet/v<layout>/ below it). */
  bpffs: string;
  /** Bound of the BPF flow map (entries, one per direction). */
  flowsMax?: number;
  /** Attach with clsact + cls_bpf even where tcx exists. */
  forceClsact?: boolean;
  /** A BPF object file instead of the one embedded in the addon (tests). */
  object?: string;
}

/** What enableFastPath found under the pin directory: a restart adopts what a previous run pinned. */
export interface FastPathLoadReport {
  pinDir: string;
  flowsReused: boolean;
  flowsReplaced: boolean;
  linksUpdated: number;
  filtersReplaced: number;
  staleRemoved: number;
}

/** A pod on this node's bridge, as the kernel flow cache needs it. */
export interface LocalPod {
  /** The pod's host-side veth. */
  ifindex: number;
  /** The pod's own interface MAC. */
  mac: string;
  /** The MAC the pod knows its gateway by (the bridge's). */
  gatewayMac: string;
  addresses: string[];
  /**
   * false: no anti-spoofing entry for the veth (a stale one is deleted); the program then only
   * caches the pod's flows. Default true.
   */
  antiSpoofing?: boolean;
}

/** One of the node's uplinks for the kernel flow cache (Engine.setUplinks). */
export interface Uplink {
  ifindex: number;
  /** The device's MTU: off-node delivery never sends a larger packet. */
  mtu: number;
}

/** Engine.localPodEntry: a pod's anti-spoofing entry read back from the BPF map. */
export interface LocalPodEntry {
  mac: string;
  /** IPv4 first, then IPv6, in the kernel's text form. */
  addresses: string[];
  /** Whether the program runs on the veth (an attachment with a live program). */
  attached: boolean;
}

/** The kernel flow cache's state (null from fastPathStatus while it is off). */
export interface FastPathStatus {
  pinDir: string;
  /** tcx, clsact, or none before the first pod. */
  attachMode: string;
  /** Entries (one per direction) after the last sweep. */
  entries: number;
  installs: number;
  installErrors: number;
  removed: number;
  sweeps: number;
  sweepErrors: number;
  /** The tc program's counters: hit_peer, miss, punt_tcp_syn, spoof_drop, ... */
  program: Record<string, number>;
  pods: number;
  /** ifindexes of the uplinks flows from off-node are cached at. */
  uplinks: number[];
  attachments: { ifindex: number; mode: string; progId: number }[];
}

/**
 * NetworkPolicy as the engine enforces it: compiled by the control plane from
 * networking.k8s.io/v1 NetworkPolicies, Pods and Namespaces. Decisions are made on a flow's
 * first packet, after DNAT (the destination is the endpoint pod); replies of an allowed flow pass.
 */
export interface PolicyTables {
  /** Every pod whose traffic the policy concerns: its addresses and what isolates it. */
  pods: PolicyPod[];
  /** Rule sets referenced by index from pods; a pod's traffic is allowed when any rule matches. */
  ruleSets: PolicyRuleSet[];
  /** The node's own addresses: traffic between a pod and its node is always allowed. */
  hostAddresses?: string[];
}

export interface PolicyPod {
  /** The pod's own addresses (IPv4 and/or IPv6). */
  ips: string[];
  /** "namespace/name", for counters and trace. */
  name?: string;
  /** Index into ruleSets when the pod is isolated for ingress; absent = not isolated. */
  ingress?: number;
  /** Index into ruleSets when the pod is isolated for egress; absent = not isolated. */
  egress?: number;
}

export interface PolicyRuleSet {
  rules: PolicyRule[];
  /** "namespace/name" of every policy that isolates the pods using this set: named by trace and counted on denial. */
  isolatedBy?: string[];
}

export interface PolicyRule {
  /** "namespace/name" of the NetworkPolicy the rule comes from: counted and named by trace. */
  policy: string;
  /** Peers the rule allows (the other end of the flow); absent or empty = any peer. */
  peers?: PolicyPeer[];
  /** Destination ports the rule allows; absent or empty = any port and protocol. */
  ports?: PolicyPort[];
}

export interface PolicyPeer {
  /** A CIDR; a pod is its /32 or /128. */
  cidr: string;
  /** ipBlock.except: CIDRs inside `cidr` that do not match. */
  except?: string[];
}

export interface PolicyPort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** Absent = every port of the protocol. Named ports are resolved per destination pod before this. */
  port?: number;
  /** Inclusive upper end of a range starting at `port`. */
  endPort?: number;
}

export interface PolicyStats {
  version: number;
  /** New flows allowed, per policy "namespace/name" (the first matching rule's policy). */
  allowed: Record<string, number>;
  /** New flows denied, per isolating policy "namespace/name" and direction. */
  denied: { policy: string; direction: 'ingress' | 'egress'; flows: number }[];
}

export interface PolicyApplyResult {
  version: number;
  /** Established flows no longer allowed by the new policy, cut. */
  flowsCut: number;
}

/** Engine.monitorStart: the rate limit per engine thread. */
export interface MonitorOptions {
  /** Events per second per thread (default 5000); more are counted as skipped. */
  rate?: number;
  /** Events a thread may record at once above the rate (default 1000). */
  burst?: number;
}

/**
 * One event of the engine's monitor ring. Names are looked up when the event is read: the
 * service port by the packet's destination, pods and policies in the policy table.
 */
export interface MonitorEvent {
  type: 'drop' | 'flow-new' | 'flow-end';
  /** Wall-clock time, milliseconds since the epoch. */
  timeMs: number;
  /** drop: the engine's drop counter name (policy_ingress, no_backend, ...); flow-end: expired, closed, reset, cut or evicted. */
  reason?: string;
  /** drop: the packet's length. */
  length?: number;
  family?: 4 | 6;
  /** Absent when the packet did not parse. */
  protocol?: 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'other';
  srcIp?: string;
  dstIp?: string;
  /** "ip:port" for TCP and UDP, the address alone otherwise: as the packet arrived (before any DNAT). */
  src?: string;
  dst?: string;
  srcPod?: string;
  dstPod?: string;
  servicePort?: string;
  /** The flow's (or the denied packet's) DNAT target, its endpoint name and pod. */
  backend?: string;
  backendName?: string;
  backendPod?: string;
  snat?: string;
  /** flow-new: what kind of flow the engine keeps. */
  kind?: 'service' | 'masquerade' | 'tracked';
  /** flow-new with the fast path on: whether the kernel flow cache carries it. */
  cached?: boolean;
  /** flow-end: the flow's state when it ended. */
  state?: string;
  /** drop (policy): the policies isolating the denied end; morePolicies beyond the first four. */
  deniedBy?: string[];
  morePolicies?: number;
  /** flow-new: the policy that allowed it. */
  allowedBy?: string;
}

/** Engine.monitorRead: the events queued since the last read, and counts since monitorStart. */
export interface MonitorReadResult {
  events: MonitorEvent[];
  /** Over a thread's rate: not recorded. */
  skipped: number;
  /** The ring was full: not recorded. */
  lost: number;
}
