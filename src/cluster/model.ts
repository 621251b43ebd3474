// The pure model of cross-node routing: (this node, all Nodes, mode) → the desired state of the
// current netns. No I/O; program.ts makes the kernel match it. Two modes:
//   routed: <remote pod CIDR> via <remote InternalIP> dev <uplink>           (host-gw, one L2 segment)
//   vxlan:  one VXLAN device; per remote node an FDB entry (its VTEP MAC → its InternalIP), a
//           permanent neighbour (next hop = network address of its pod CIDR → VTEP MAC) and an
//           onlink route <remote pod CIDR> via <that next hop> dev <vxlan>   (flannel's scheme)
// In both modes traffic from other nodes to a local pod is sent through the engine first:
//   rule <pref> iif <uplink|vxlan> to <local pod CIDR> lookup podnet
// It cannot loop: what the engine writes back arrives with iif <tun>, which the rule never matches,
// and the main table then delivers it to the bridge.
import { createHash } from 'node:crypto';
import { parseNetwork } from '../net/cidr';
import { familyOf, type Family } from '../net/ip';
import { ClusterError } from './errors';
import type { ClusterNode } from './nodes';

export type ClusterMode = 'routed' | 'vxlan';

export interface ClusterRoutingConfig {
  mode: ClusterMode;
  /** The underlay link (carries InternalIPs): routed next hops and the VXLAN's lower device. */
  uplink: string;
  /** MTU of the uplink; the VXLAN device gets 50 (IPv4 underlay) or 70 (IPv6) bytes less. */
  uplinkMtu?: number;
  /** Routing table id of "table podnet" (node/wiring.ts DEFAULT_ROUTE_TABLE). */
  podTable: number;
  /** Pref of the "traffic from other nodes into the engine" rule (between pod 100 and local 200). */
  rulePref?: number;
  vxlan?: { name?: string; vni?: number; port?: number };
}

export const DEFAULT_RULE_PREF = 101;
export const DEFAULT_VXLAN = { name: 'podnet-vxlan', vni: 1, port: 4789 } as const;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14); IPv6 outer header is 20 bytes more. */
export const VXLAN_OVERHEAD: Record<Family, number> = { 4: 50, 6: 70 };

export interface VxlanDevice {
  name: string;
  vni: number;
  port: number;
  /** Our VTEP address (this node's InternalIP of the underlay family). */
  local: string;
  /** Our VTEP MAC, derived from the node name so that every node computes it without annotations. */
  mac: string;
  mtu: number;
  lower: string;
}

export interface RouteSpec {
  /** Remote pod CIDR. */
  dst: string;
  via: string;
  dev: string;
  onlink: boolean;
  /** Node it leads to (for logs and tests). */
  node: string;
}

export interface NeighSpec { ip: string; mac: string; dev: string; node: string }
export interface FdbSpec { mac: string; dst: string; dev: string; node: string }
export interface RuleSpec { family: Family; iif: string; to: string; table: number; pref: number }

/** A remote node (or one of its CIDRs) that gets no route, and why. */
export interface Skipped { node: string; cidr?: string; reason: string }

export interface ClusterRoutingState {
  mode: ClusterMode;
  vxlan?: VxlanDevice;
  routes: RouteSpec[];
  neighbours: NeighSpec[];
  fdb: FdbSpec[];
  rules: RuleSpec[];
  /** MTU pods on this node should use (the CNI's `mtu`): the VXLAN MTU, or the uplink's. */
  podMtu: number;
  skipped: Skipped[];
}

/** Locally administered unicast MAC from a node name: stable across restarts and nodes. */
export function vtepMac(nodeName: string): string {
  const h = createHash('sha256').update(`podnet-vtep:${nodeName}`).digest();
  h[0] = (h[0] & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function ipOf(n: ClusterNode, f: Family): string | undefined {
  return n.internalIPs.find((ip) => familyOf(ip) === f);
}

function checkConfig(cfg: ClusterRoutingConfig): void {
  if (cfg.mode !== 'routed' && cfg.mode !== 'vxlan') throw new ClusterError('CLUSTER_BAD_CONFIG', `mode must be routed or vxlan, not ${String(cfg.mode)}`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(cfg.uplink)) throw new ClusterError('CLUSTER_BAD_CONFIG', `bad uplink name ${cfg.uplink}`);
  const vni = cfg.vxlan?.vni ?? DEFAULT_VXLAN.vni;
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) throw new ClusterError('CLUSTER_BAD_CONFIG', `VNI out of range: ${vni}`);
  const port = cfg.vxlan?.port ?? DEFAULT_VXLAN.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ClusterError('CLUSTER_BAD_CONFIG', `VXLAN port out of range: ${port}`);
}

/** Desired cross-node routing state of node `self`, from every node's Node object. */
export function desiredClusterRouting(self: string, nodes: readonly ClusterNode[], cfg: ClusterRoutingConfig): ClusterRoutingState {
  checkConfig(cfg);
  const me = nodes.find((n) => n.name === self);
  if (!me) throw new ClusterError('CLUSTER_NO_SELF', `no Node object named ${self}`);
  const uplinkMtu = cfg.uplinkMtu ?? 1500;
  const pref = cfg.rulePref ?? DEFAULT_RULE_PREF;
  const remotes = nodes.filter((n) => n.name !== self).sort((a, b) => a.name.localeCompare(b.name));
  const st: ClusterRoutingState = { mode: cfg.mode, routes: [], neighbours: [], fdb: [], rules: [], podMtu: uplinkMtu, skipped: [] };

  let ingress = cfg.uplink;
  if (cfg.mode === 'routed') {
    for (const n of remotes) for (const c of n.podCIDRs) {
      const f = parseNetwork(c).family;
      const via = ipOf(n, f);
      if (!via) { st.skipped.push({ node: n.name, cidr: c, reason: `no IPv${f} InternalIP` }); continue; }
      st.routes.push({ dst: c, via, dev: cfg.uplink, onlink: false, node: n.name });
    }
  } else {
    // One underlay family for the tunnel: IPv4 when this node has an IPv4 InternalIP. Both pod
    // families ride inside it, so an IPv6 pod network needs no IPv6 underlay.
    const uf: Family | undefined = ipOf(me, 4) ? 4 : ipOf(me, 6) ? 6 : undefined;
    if (!uf) throw new ClusterError('CLUSTER_BAD_NODE', `Node ${self}: no InternalIP for the VXLAN underlay`);
    const name = cfg.vxlan?.name ?? DEFAULT_VXLAN.name;
    st.vxlan = {
      name, vni: cfg.vxlan?.vni ?? DEFAULT_VXLAN.vni, port: cfg.vxlan?.port ?? DEFAULT_VXLAN.port,
      local: ipOf(me, uf)!, mac: vtepMac(self), mtu: uplinkMtu - VXLAN_OVERHEAD[uf], lower: cfg.uplink,
    };
    st.podMtu = st.vxlan.mtu;
    ingress = name;
    for (const n of remotes) {
      const vtep = ipOf(n, uf);
      if (!vtep) { st.skipped.push({ node: n.name, reason: `no IPv${uf} InternalIP (underlay)` }); continue; }
      if (n.podCIDRs.length === 0) { st.skipped.push({ node: n.name, reason: 'no pod CIDRs' }); continue; }
      const mac = vtepMac(n.name);
      st.fdb.push({ mac, dst: vtep, dev: name, node: n.name });
      for (const c of n.podCIDRs) {
        const via = c.split('/')[0];
        st.neighbours.push({ ip: via, mac, dev: name, node: n.name });
        st.routes.push({ dst: c, via, dev: name, onlink: true, node: n.name });
      }
    }
  }
  for (const c of me.podCIDRs) {
    st.rules.push({ family: parseNetwork(c).family, iif: ingress, to: c, table: cfg.podTable, pref });
  }
  return st;
}

/**
 * The cluster's own addresses off node `self`, for the kernel flow cache
 * (Engine.setClusterPeers): every Node's pod CIDRs and the other Nodes' InternalIPs (as /32,
 * /128), sorted, each once. Traffic between a pod and these needs no NAT on the node, so the
 * cache may carry it untranslated. This node's own addresses are left out: a pod's traffic to
 * them is delivered locally, never by the cache.
 */
export function clusterPeers(nodes: readonly ClusterNode[], self: string): string[] {
  const out = new Set<string>();
  for (const n of nodes) {
    for (const c of n.podCIDRs) out.add(c);
    if (n.name === self) continue;
    for (const ip of n.internalIPs) out.add(`${ip}/${familyOf(ip) === 4 ? 32 : 128}`);
  }
  return [...out].sort();
}
