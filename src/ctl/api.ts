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

/** Any non-2xx answer. */
export interface ErrorReply {
  apiVersion: typeof API_VERSION;
  error: { code: string; message: string };
}
