// Sync metrics: the set the services control plane updates, on prom-client, named after
// kube-proxy's (kubeproxy_ → podnet_). They live in the Registry they are given: podnetd's own
// (src/daemon/daemon.ts), which also holds the engine's, the anti-spoofing and the process
// metrics, or a fresh one (tests, tools), so several control planes can coexist in one process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** kube-proxy's exponential buckets for sync durations: 1 ms · 2^i, 15 buckets (~16 s). */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
/** kube-proxy's network programming buckets (0.25 s … 5 min), with finer ones below since we are faster. */
const PROGRAMMING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 45, 60, 120, 180, 240, 300];

/** The metrics the sync updates. */
export class SyncMetrics {
  readonly syncDuration: Histogram;
  readonly fullSyncDuration: Histogram;
  readonly partialSyncDuration: Histogram;
  readonly programmingDuration: Histogram;
  readonly lastSyncTimestamp: Gauge;
  readonly lastQueuedTimestamp: Gauge;
  readonly serviceChangesPending: Gauge;
  readonly endpointChangesPending: Gauge;
  readonly serviceChangesTotal: Counter;
  readonly endpointChangesTotal: Counter;
  readonly syncFailures: Counter;
  readonly services: Gauge;
  readonly servicePorts: Gauge;
  readonly endpoints: Gauge;
  readonly invalidObjects: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.syncDuration = histogram('podnet_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds (full and partial)', SYNC_BUCKETS);
    this.fullSyncDuration = histogram('podnet_sync_full_proxy_rules_duration_seconds', 'Latency of full syncs (engine table replaced) in seconds', SYNC_BUCKETS);
    this.partialSyncDuration = histogram('podnet_sync_partial_proxy_rules_duration_seconds', 'Latency of partial syncs (delta applied) in seconds', SYNC_BUCKETS);
    this.programmingDuration = histogram('podnet_network_programming_duration_seconds', 'Time from an object change (the EndpointSlice last-change-trigger-time when present, else when podnetd saw it) to the engine table holding it, in seconds', PROGRAMMING_BUCKETS);
    this.lastSyncTimestamp = gauge('podnet_sync_proxy_rules_last_timestamp_seconds', 'The last time the engine tables were successfully synced');
    this.lastQueuedTimestamp = gauge('podnet_sync_proxy_rules_last_queued_timestamp_seconds', 'The last time a sync was queued');
    this.serviceChangesPending = gauge('podnet_sync_proxy_rules_service_changes_pending', 'Pending service changes');
    this.endpointChangesPending = gauge('podnet_sync_proxy_rules_endpoint_changes_pending', 'Pending endpoint (EndpointSlice) changes');
    this.serviceChangesTotal = counter('podnet_sync_proxy_rules_service_changes_total', 'Cumulative service changes (no-op updates excluded)');
    this.endpointChangesTotal = counter('podnet_sync_proxy_rules_endpoint_changes_total', 'Cumulative EndpointSlice changes (no-op updates excluded)');
    this.syncFailures = counter('podnet_sync_proxy_rules_failures_total', 'Syncs that failed to program the engine');
    this.services = gauge('podnet_sync_proxy_rules_services', 'Services with at least one programmed service port');
    this.servicePorts = gauge('podnet_sync_proxy_rules_service_ports', 'Service ports (VIP, port, protocol) programmed in the engine');
    this.endpoints = gauge('podnet_sync_proxy_rules_endpoints', 'Backends programmed across all service ports (terminating included)');
    this.invalidObjects = counter('podnet_invalid_objects_total', 'Objects or manifest documents rejected by validation');
  }
}
