// What a benchmark configuration is: something that, given a fresh topology, makes the three
// test services reachable (directly or through a VIP) and can be torn down again, and which
// configuration its figures are divided by (measured beside it, bench/paired.ts).
import type { MetricId } from '../metrics';
import type { Topology } from '../topology';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Targets {
  /** Single backend (iperf3's two connections must meet the same server); TCP and UDP. */
  iperf: Endpoint;
  sockperf: Endpoint;
  /** Two backends: connection setup is where a load balancer's per-flow work shows. */
  connrate: Endpoint;
}

export interface Active {
  targets: Targets;
  /** The userspace data-plane process (podnetd, haproxy): CPU accounting and pinning. */
  dataPlanePid?: number;
  /** Runs before each connection-rate run (kernel DNAT: flush conntrack so the table never fills). */
  beforeConnrate?(): Promise<void>;
  /** Figures this configuration cannot produce, with the reason (shown in the report). */
  skip?: Partial<Record<MetricId, string>>;
  /** Free-form facts for the JSON (offloads, versions, rule counts). */
  info?: Record<string, unknown>;
  teardown(): Promise<void>;
}

export interface Configuration {
  id: string;
  label: string;
  /**
   * The configuration measured beside this one and divided by, figure by figure: `direct` unless
   * set (pod-to-pod through podnet is compared with a plain node instead).
   */
  baseline?: Configuration;
  /** Why it cannot run on this machine, or null. */
  unavailable?(): Promise<string | null>;
  /** A fresh topology of its own kind (default: topology.ts's sandbox with hand-made pods). */
  topology?(): Promise<Topology>;
  setup(topo: Topology): Promise<Active>;
}
