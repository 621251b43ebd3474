// What `podnetctl cluster` shows: every node cross-node routing knows, its pod CIDRs and
// InternalIPs, what this node programmed for it (routes, VXLAN FDB and neighbour entries) and
// its state. Pure: built from the Node objects and the last desired state the controller synced.
import type { ClusterNode } from './nodes';
import type { ClusterRoutingState } from './model';

export type ClusterNodeState = 'self' | 'programmed' | 'skipped' | 'pending';

/** One node as this node routes to it. */
export interface ClusterNodeView {
  name: string;
  podCIDRs: string[];
  internalIPs: string[];
  /** self: this node; programmed: entries in place; skipped: not routable (reason); pending: no sync yet. */
  state: ClusterNodeState;
  reason?: string;
  /** What this node programmed for it, as `ip`/`bridge` would print it. */
  entries: string[];
}

export interface ClusterView {
  mode: 'none' | 'routed' | 'vxlan';
  node: string;
  podMtu?: number;
  /** Wall-clock ms of the last sync, and its error when it failed. */
  lastSyncAt?: number;
  error?: { code: string; message: string };
  nodes: ClusterNodeView[];
}

/** The entries of `state` that belong to `node`, one line each. */
function entriesOf(state: ClusterRoutingState, node: string): string[] {
  return [
    ...state.routes.filter((r) => r.node === node).map((r) => `route ${r.dst} via ${r.via} dev ${r.dev}${r.onlink ? ' onlink' : ''}`),
    ...state.fdb.filter((f) => f.node === node).map((f) => `fdb ${f.mac} dst ${f.dst} dev ${f.dev}`),
    ...state.neighbours.filter((n) => n.node === node).map((n) => `neigh ${n.ip} lladdr ${n.mac} dev ${n.dev}`),
  ];
}

export function clusterView(input: {
  mode: ClusterView['mode'];
  self: string;
  nodes: Iterable<ClusterNode>;
  /** The last desired state synced successfully; undefined before the first. */
  state?: ClusterRoutingState;
  lastSyncAt?: number;
  error?: { code: string; message: string };
}): ClusterView {
  const { state } = input;
  const nodes = [...input.nodes].sort((a, b) => (a.name === input.self ? -1 : b.name === input.self ? 1 : a.name.localeCompare(b.name)));
  return {
    mode: input.mode,
    node: input.self,
    ...(state?.podMtu ? { podMtu: state.podMtu } : {}),
    ...(input.lastSyncAt !== undefined ? { lastSyncAt: input.lastSyncAt } : {}),
    ...(input.error ? { error: input.error } : {}),
    nodes: nodes.map((n) => {
      const base = { name: n.name, podCIDRs: [...n.podCIDRs], internalIPs: [...n.internalIPs] };
      if (n.name === input.self) return { ...base, state: 'self' as const, entries: [] };
      if (!state || input.mode === 'none') return { ...base, state: 'pending' as const, entries: [] };
      const skipped = state.skipped.filter((s) => s.node === n.name);
      const entries = entriesOf(state, n.name);
      if (skipped.length && !entries.length) return { ...base, state: 'skipped' as const, reason: skipped.map((s) => (s.cidr ? `${s.cidr}: ${s.reason}` : s.reason)).join('; '), entries };
      return { ...base, state: 'programmed' as const, ...(skipped.length ? { reason: skipped.map((s) => (s.cidr ? `${s.cidr}: ${s.reason}` : s.reason)).join('; ') } : {}), entries };
    }),
  };
}
