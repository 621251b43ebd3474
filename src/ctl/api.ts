// The control API's JSON: what podnetd serves on its unix socket and what `podnetctl --json`
// prints, unchanged. This file is the documentation of that contract: fields are only ever
// added (never renamed or removed) within apiVersion "podnet/v1".
import type { EngineStats, FlowInfo, QueueStats, TraceResult } from '../engine/types';

export const API_VERSION = 'podnet/v1';

/** GET /v1/status */
export interface StatusReply {
  apiVersion: typeof API_VERSION;
  podnetd: {
    pid: number;
    nodeName: string;
    /** "manifests:/dir", "kubeconfig:/path", "kubeconfig:in-cluster" or "tables:/file". */
    source: string;
    startedAt: string;
    uptimeSec: number;
    /** The first sync is programmed and the TUN attached. */
    ready: boolean;
    /** /healthz would answer 200. */
    healthy: boolean;
  };
  engine: {
    tun: string;
    offloads: string[];
    tableVersion: number;
    restoredFlows: boolean;
    flows: EngineStats['flows'];
    drops: Record<string, number>;
    passthrough: number;
    queues: QueueStats[];
  };
  sync: {
    initialized: boolean;
    services: number;
    endpointSlices: number;
    servicePorts: number;
    backends: number;
    pending: number;
    /** ISO time of the last successful sync ("" before the first). */
    lastUpdated: string;
    lastSync?: { full: boolean; upserts: number; removes: number; durationMs: number; error?: string };
  };
}

export interface BackendEntry {
  ip: string;
  port: number;
  /** The pod (EndpointSlice targetRef) or label given to the engine. */
  name?: string;
  terminating: boolean;
  /** Share of new flows, relative: 1 for every active backend (Maglev, equal weights), 0 when terminating. */
  weight: number;
  packets: number;
  bytes: number;
  flows: number;
}

/** One service port, as the control plane programmed it and the engine counts it. */
export interface ServiceEntry {
  name: string;
  vip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  affinityTimeoutSec: number;
  masquerade?: string;
  packets: number;
  bytes: number;
  flows: number;
  backends: BackendEntry[];
}

/** GET /v1/services */
export interface ServicesReply {
  apiVersion: typeof API_VERSION;
  tableVersion: number;
  services: ServiceEntry[];
}

/** GET /v1/flows?vip=&client=&backend=&protocol=&limit= (vip/client/backend: "ip" or "ip:port"). */
export interface FlowsReply {
  apiVersion: typeof API_VERSION;
  /** Flows matching the filter (up to limit). */
  flows: FlowInfo[];
  /** Flows in the table (before filtering). */
  active: number;
  /** More flows matched than were returned. */
  truncated: boolean;
}

/** GET /v1/trace?from=IP&to=IP&port=N&protocol=TCP|UDP[&sourcePort=N] */
export interface TraceReply {
  apiVersion: typeof API_VERSION;
  query: { from: string; to: string; port: number; protocol: 'TCP' | 'UDP'; sourcePort: number };
  result: TraceResult & {
    /** Human sentence: why this verdict. */
    explanation: string;
  };
  /** false: the engine has no trace(); the answer was derived from the programmed table only. */
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
  ips: string[];
  ingress: PolicyDirectionEntry;
  egress: PolicyDirectionEntry;
}

/** One NetworkPolicy's engine counters (new flows, since podnetd started). */
export interface PolicyCounterEntry {
  policy: string;
  /** New flows whose first matching rule came from this policy. */
  allowed: number;
  /** New flows denied where this policy isolated the denied end, per direction. */
  denied: { ingress: number; egress: number };
  /** Listed pods this policy isolates (either direction). */
  isolates: string[];
}

/** GET /v1/policies[?pod=NAME|NAMESPACE/NAME|IP] */
export interface PoliciesReply {
  apiVersion: typeof API_VERSION;
  /** false: podnetd has no NetworkPolicy source (tables mode); nothing is enforced and `pods` is empty. */
  enforcing: boolean;
  /** Why the list is empty or partial (no policy source, no table yet, no such pod). */
  note?: string;
  /** The engine's policy table version (0: unknown or none published). */
  tableVersion: number;
  /** Sizes of the whole programmed policy table (src/policy/explain.ts tableSizes), whatever the filter. */
  summary: { pods: number; isolated: number; ruleSets: number; rules: number; peers: number };
  /** Pods on this node (matching ?pod=), sorted by name. */
  pods: PodPolicyEntry[];
  /** Policies that isolate the listed pods or appear in their rules (all with counters when unfiltered), sorted. */
  policies: PolicyCounterEntry[];
}

/** Any non-2xx answer. */
export interface ErrorReply {
  apiVersion: typeof API_VERSION;
  error: { code: string; message: string };
}
