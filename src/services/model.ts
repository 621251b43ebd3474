// The model: pure functions from normalized Services + EndpointSlices (+ this node) to engine
// ServicePortSpecs, and from two spec sets to a TableDelta. No I/O, no clocks, no logging:
// anything worth reporting comes back as a `notes` entry for the caller to log.
//
// Rules (kube-proxy's, pkg/proxy/topology.go + endpointslicecache.go), per service port and
// ClusterIP family:
//   - endpoints come from the service's slices of that family, from the slice port whose *name*
//     (and protocol) matches the service port; duplicates across slices merge (ready wins);
//   - eligible for new flows: ready endpoints (filtered by topology hints when usable); if none,
//     serving+terminating ones (KEP-1669); with internalTrafficPolicy Local only this node's;
//   - every other known endpoint stays in the spec as `terminating: true` so its established
//     flows keep going; for UDP only while it is still serving: a UDP endpoint that stopped
//     serving leaves the spec and the engine purges its flows at once (kube-proxy clears UDP
//     conntrack on the same transition);
//   - a port with no eligible endpoint still gets a spec (zero non-terminating backends) so the
//     engine rejects new connections with RST / ICMP unreachable.
//
// Needs from the engine beyond its contract:
//   - "VIP on a port the service doesn't define is rejected": done by the engine for any VIP it
//     knows; nothing to emit here.
//   - internalTrafficPolicy Local with no local endpoint: kube-proxy DROPs; the spec says
//     `noEndpoints: 'drop'` so the engine drops instead of rejecting.
//   - SCTP: the engine is TCP/UDP only; such ports are reported and skipped.
import type { BackendSpec, Protocol, ServicePortKey, ServicePortSpec, TableDelta } from '../engine/types';
import { externalSpecs, type ExternalNodeContext } from './external';
import type { EndpointInfo, EndpointSliceInfo, ServiceInfo, ServicePortInfo } from './objects';
import { ipFamily } from '../net/ip';

/** Where this node sits: needed for internalTrafficPolicy Local and topology hints. */
export interface NodeContext {
  readonly nodeName: string;
  /** topology.kubernetes.io/zone of this node, if known. */
  readonly zone?: string;
  /** NodePort addresses and masquerade sources; absent = no NodePort/LB/externalIP specs (external.ts). */
  readonly external?: ExternalNodeContext;
}

/** Something the caller should log once (unsupported protocol, hints ignored, ...). */
export interface ModelNote {
  readonly service: string;
  readonly code: 'unsupported-protocol' | 'topology-ignored' | 'external-no-node-address';
  readonly message: string;
}

/** Identity of a spec in maps: "vip|port|protocol". */
export function specKey(k: ServicePortKey): string {
  return `${k.vip}|${k.port}|${k.protocol}`;
}

/** Deep equality of two specs built by this module (fixed key order, sorted backends). */
export function specsEqual(a: ServicePortSpec, b: ServicePortSpec): boolean {
  if (a.backends.length !== b.backends.length || a.affinityTimeoutSec !== b.affinityTimeoutSec || a.name !== b.name || a.masquerade !== b.masquerade) return false;
  if (a.noEndpoints !== b.noEndpoints || !!a.sharedAddress !== !!b.sharedAddress) return false;
  if ((a.sourceRanges ?? []).join() !== (b.sourceRanges ?? []).join()) return false;
  for (let i = 0; i < a.backends.length; i++) {
    const x = a.backends[i];
    const y = b.backends[i];
    if (x.ip !== y.ip || x.port !== y.port || !!x.terminating !== !!y.terminating || x.name !== y.name) return false;
  }
  return a.vip === b.vip && a.port === b.port && a.protocol === b.protocol;
}

/** A merged endpoint for one service port: the slice endpoint plus the port it serves on. */
interface PortEndpoint {
  readonly ep: EndpointInfo;
  readonly port: number;
}

/** Below this many candidates duplicates are found by a linear scan: no key strings, no Map. */
const LINEAR_DEDUPE_MAX = 16;

/** Merges the endpoints of `slices` serving `sp` in one address family; ready beats not ready on duplicates. */
export function endpointsForPort(sp: ServicePortInfo, family: 4 | 6, slices: Iterable<EndpointSliceInfo>): PortEndpoint[] {
  const want = family === 4 ? 'IPv4' : 'IPv6';
  const out: PortEndpoint[] = [];
  let byAddr: Map<string, number> | undefined; // "ip|port" → index in out, once out is large
  for (const s of slices) {
    if (s.addressType !== want) continue; // FQDN slices never match
    for (const p of s.ports) {
      if (p.name !== sp.name || p.protocol !== sp.protocol || p.port === undefined) continue;
      const port = p.port;
      for (const ep of s.endpoints) {
        let at = -1;
        if (byAddr) {
          at = byAddr.get(`${ep.ip}|${port}`) ?? -1;
        } else {
          for (let i = 0; i < out.length; i++) if (out[i].port === port && out[i].ep.ip === ep.ip) { at = i; break; }
        }
        if (at >= 0) {
          if (!out[at].ep.ready && ep.ready) out[at] = { ep, port };
          continue;
        }
        out.push({ ep, port });
        if (byAddr) byAddr.set(`${ep.ip}|${port}`, out.length - 1);
        else if (out.length > LINEAR_DEDUPE_MAX) {
          byAddr = new Map();
          for (let i = 0; i < out.length; i++) byAddr.set(`${out[i].ep.ip}|${out[i].port}`, i);
        }
      }
    }
  }
  return out;
}

type Topology = { readonly mode: '' | 'node' | 'zone'; readonly why?: string };
const NO_TOPOLOGY: Topology = Object.freeze({ mode: '' });
const NODE_TOPOLOGY: Topology = Object.freeze({ mode: 'node' });
const ZONE_TOPOLOGY: Topology = Object.freeze({ mode: 'zone' });

/** kube-proxy's topologyModeFromHints: 'node', 'zone' or '' (no topology filtering). */
export function topologyMode(eps: readonly PortEndpoint[], node: NodeContext): Topology {
  let allNode = true;
  let allZone = true;
  let forNode = false;
  let forZone = false;
  let anyReady = false;
  let someHints = false;
  for (const { ep } of eps) {
    if (!ep.ready) continue;
    anyReady = true;
    if (ep.nodeHints.length === 0) allNode = false;
    else { someHints = true; if (ep.nodeHints.includes(node.nodeName)) forNode = true; }
    if (ep.zoneHints.length === 0) allZone = false;
    else { someHints = true; if (node.zone !== undefined && ep.zoneHints.includes(node.zone)) forZone = true; }
  }
  if (!anyReady || !someHints) return NO_TOPOLOGY;
  if (allNode && forNode) return NODE_TOPOLOGY;
  if (allZone) {
    if (forZone) return ZONE_TOPOLOGY;
    return { mode: '', why: node.zone === undefined ? 'this node has no zone label' : `no endpoint is hinted for zone ${node.zone}` };
  }
  return { mode: '', why: 'not every ready endpoint has hints' };
}

/**
 * Which of `eps` take new flows, by kube-proxy's CategorizeEndpoints rules, as flags parallel to
 * `eps` (one array; the Set and filtered lists this used to build were a full sync's garbage).
 */
function eligibility(svc: ServiceInfo, eps: readonly PortEndpoint[], node: NodeContext, notes?: ModelNote[]): boolean[] {
  const take = new Array<boolean>(eps.length).fill(false);
  let any = false;
  if (svc.internalLocal) {
    for (let i = 0; i < eps.length; i++) if (eps[i].ep.ready && eps[i].ep.nodeName === node.nodeName) any = take[i] = true;
    // None ready here: serving+terminating local ones (KEP-1669).
    if (!any) for (let i = 0; i < eps.length; i++) take[i] = eps[i].ep.serving && eps[i].ep.terminating && eps[i].ep.nodeName === node.nodeName;
    return take;
  }
  const topo = topologyMode(eps, node);
  if (topo.why && notes) notes.push({ service: svc.key, code: 'topology-ignored', message: `topology hints ignored: ${topo.why}` });
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i].ep;
    if (!e.ready) continue;
    if (topo.mode === 'node' ? e.nodeHints.includes(node.nodeName) : topo.mode === 'zone' ? e.zoneHints.includes(node.zone as string) : true) any = take[i] = true;
  }
  if (!any) for (let i = 0; i < eps.length; i++) take[i] = eps[i].ep.serving && eps[i].ep.terminating;
  return take;
}

/** The endpoints that take new flows, by kube-proxy's CategorizeEndpoints rules. */
export function eligibleEndpoints(svc: ServiceInfo, eps: readonly PortEndpoint[], node: NodeContext, notes?: ModelNote[]): Set<PortEndpoint> {
  const take = eligibility(svc, eps, node, notes);
  return new Set(eps.filter((_, i) => take[i]));
}

function compareBackends(a: BackendSpec, b: BackendSpec): number {
  if (!!a.terminating !== !!b.terminating) return a.terminating ? 1 : -1;
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  return a.port - b.port;
}

/** The backend list of one service port in one family (sorted, so equal inputs give equal specs). */
export function backendsFor(svc: ServiceInfo, sp: ServicePortInfo, family: 4 | 6, slices: Iterable<EndpointSliceInfo>, node: NodeContext, notes?: ModelNote[]): BackendSpec[] {
  const eps = endpointsForPort(sp, family, slices);
  if (eps.length === 0) return [];
  const take = eligibility(svc, eps, node, notes);
  const out: BackendSpec[] = [];
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i];
    // Known but not eligible: keep for established flows, except a UDP endpoint that stopped serving.
    if (!take[i] && sp.protocol === 'UDP' && !e.ep.serving) continue;
    const b: BackendSpec = { ip: e.ep.ip, port: e.port };
    if (!take[i]) b.terminating = true;
    if (e.ep.targetName !== undefined) b.name = e.ep.targetName;
    out.push(b);
  }
  return out.length > 1 ? out.sort(compareBackends) : out;
}

/** Display name of a service port: "namespace/name:port" (kube-proxy's ServicePortName). */
export function portName(svc: ServiceInfo, sp: ServicePortInfo): string {
  return sp.name ? `${svc.key}:${sp.name}` : svc.key;
}

/**
 * All engine specs of one service: one per (ClusterIP family × TCP/UDP port). Headless,
 * ExternalName and service-proxy-name services yield none; SCTP ports are noted and skipped.
 */
export function serviceSpecs(svc: ServiceInfo, slices: Iterable<EndpointSliceInfo>, node: NodeContext, notes?: ModelNote[]): ServicePortSpec[] {
  if (svc.skip) return [];
  const sliceList = Array.isArray(slices) ? slices as readonly EndpointSliceInfo[] : [...slices];
  const out: ServicePortSpec[] = [];
  for (const sp of svc.ports) {
    if (sp.protocol === 'SCTP') {
      notes?.push({ service: svc.key, code: 'unsupported-protocol', message: `port ${sp.name || sp.port}/SCTP skipped: the engine handles TCP and UDP only` });
      continue;
    }
    for (const vip of svc.clusterIPs) {
      const family = ipFamily(vip) as 4 | 6;
      const spec: ServicePortSpec = {
        vip, port: sp.port, protocol: sp.protocol as Protocol,
        backends: backendsFor(svc, sp, family, sliceList, node, notes),
        name: portName(svc, sp),
      };
      if (svc.affinityTimeoutSec > 0) spec.affinityTimeoutSec = svc.affinityTimeoutSec;
      // kube-proxy drops traffic for internalTrafficPolicy Local without a local endpoint.
      if (svc.internalLocal) spec.noEndpoints = 'drop';
      out.push(spec);
    }
  }
  // External traffic: eTP Local picks endpoints as iTP Local does (this node's ready,
  // else serving+terminating); eTP Cluster as cluster traffic, whatever the iTP.
  if (svc.external && node.external) {
    out.push(...externalSpecs(svc, node.external,
      (s, i, f, local) => backendsFor({ ...s, internalLocal: local }, s.ports[i], f, sliceList, node, local ? undefined : []),
      notes));
  }
  return out;
}

/** The delta turning `prev` into `next` (both keyed by specKey): changed or new specs upserted, missing ones removed. */
export function diffSpecs(prev: ReadonlyMap<string, ServicePortSpec>, next: ReadonlyMap<string, ServicePortSpec>): Required<TableDelta> {
  const upsert: ServicePortSpec[] = [];
  const remove: ServicePortKey[] = [];
  for (const [k, s] of next) {
    const old = prev.get(k);
    if (!old || !specsEqual(old, s)) upsert.push(s);
  }
  for (const [k, s] of prev) if (!next.has(k)) remove.push({ vip: s.vip, port: s.port, protocol: s.protocol });
  return { upsert, remove };
}
