// Traffic from outside the cluster: NodePort, LoadBalancer ingress IPs, externalIPs,
// externalTrafficPolicy, healthCheckNodePort and loadBalancerSourceRanges, as pure functions.
//
//   v1 Service spec/status ──validateExternal──▶ ExternalServiceInfo (ServiceInfo.external)
//   ServiceInfo + slices + node ──externalSpecs──▶ extra ServicePortSpecs (model.ts appends them)
//   services + node ──steeringRules──▶ what src/node/steering.ts installs on the uplink (tc)
//   services + slices + node ──healthChecks──▶ what src/external/healthcheck.ts serves
//
// Semantics (kube-proxy's nftables proxier):
//   - every external address is a VIP to the engine: a NodePort is {vip: node IP, port: nodePort};
//     LB ingress IPs (not ipMode Proxy) and externalIPs use the service port;
//   - eTP Cluster: any eligible endpoint, source masqueraded to the node's address of the family
//     (the backend's reply to it is routed into the TUN by the pod policy rule);
//   - eTP Local: only this node's endpoints (ready, else serving+terminating), source kept; none
//     → zero backends (the engine rejects; kube-proxy drops: see the engine needs below);
//   - loadBalancerSourceRanges apply to LB ingress IPs only, and are enforced by the steering
//     (tc u32 src match before the redirect), because the engine has no source filter.
// Engine needs noted for the lead (not expressible in ServicePortSpec today):
//   - a per-spec source filter (loadBalancerSourceRanges for pod/host clients, which bypass tc);
//   - "drop" instead of reject for eTP Local without local endpoints;
//   - a node address is a VIP for the engine, so pod traffic to another port of the node IP
//     (kubelet, a host-network server, the health check port) is rejected instead of passed;
//   - pod clients of an eTP Local LB IP / externalIP should be treated as cluster traffic
//     (kube-proxy short-circuits them); the engine cannot tell pod from outside sources.
import type { Protocol, ServicePortSpec } from '../engine/types';
import { cidrHasIp, canonicalCidr } from '../net/cidr';
import { canonicalIp, ipFamily } from '../net/ip';
import { steerKey, type SteerProto, type SteerRule } from '../node/steer-rule';
import { InvalidObjectError } from '../kube/errors';
import type { EndpointSliceInfo, ServiceInfo } from './objects';

export const DEFAULT_NODEPORT_RANGE: readonly [number, number] = [30000, 32767];

/** The outside-facing part of a v1 Service (absent from ServiceInfo for plain ClusterIP services). */
export interface ExternalServiceInfo {
  readonly type: 'NodePort' | 'LoadBalancer' | 'ClusterIP';
  /** spec.ports[i].nodePort, parallel to ServiceInfo.ports; 0 = none. */
  readonly nodePorts: readonly number[];
  /** spec.externalIPs, canonical. */
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip without ipMode Proxy, canonical. */
  readonly loadBalancerIPs: readonly string[];
  /** spec.loadBalancerSourceRanges, canonical CIDRs ("a.b.c.d/n"). */
  readonly sourceRanges: readonly string[];
  /** externalTrafficPolicy: Local. */
  readonly local: boolean;
  /** spec.healthCheckNodePort (eTP Local LoadBalancer / NodePort); 0 = none. */
  readonly healthCheckNodePort: number;
}

/** This node as external traffic sees it; absent in NodeContext = no external specs at all. */
export interface ExternalNodeContext {
  /** Addresses NodePorts listen on (nodePortAddresses applied), canonical. */
  readonly nodePortIPs: readonly string[];
  /** Masquerade source for eTP Cluster, per family (the node's primary address). */
  readonly masqueradeIPv4?: string;
  readonly masqueradeIPv6?: string;
}

type Obj = Record<string, unknown>;

/**
 * The external part of a v1 Service, or undefined when it has none (plain ClusterIP without
 * externalIPs). Errors name the field like validate.ts does.
 */
export function validateExternal(objectName: string, spec: Obj, status: Obj | undefined, portCount: number): ExternalServiceInfo | undefined {
  const fail = (field: string) => (why: string): never => { throw new InvalidObjectError('Service', objectName, field, why); };
  const type = (spec.type ?? 'ClusterIP') as string;
  if (type === 'ExternalName') return undefined;
  const list = (v: unknown, field: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) fail(field)('must be a list');
    return v as unknown[];
  };
  const ipOf = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || ipFamily(v) === 0) fail(field)(`not an IP address: ${JSON.stringify(v)}`);
    return canonicalIp(v as string);
  };
  const externalIPs = list(spec.externalIPs, 'spec.externalIPs').map((v, i) => ipOf(v, `spec.externalIPs[${i}]`));
  const nodePorts: number[] = [];
  const ports = list(spec.ports, 'spec.ports');
  for (let i = 0; i < portCount; i++) {
    const np = (ports[i] as Obj | undefined)?.nodePort;
    if (np === undefined || np === null || type === 'ClusterIP') { nodePorts.push(0); continue; }
    if (typeof np !== 'number' || !Number.isInteger(np) || np < 1 || np > 65535) fail(`spec.ports[${i}].nodePort`)(`must be an integer between 1 and 65535, got ${JSON.stringify(np)}`);
    nodePorts.push(np as number);
  }
  const loadBalancerIPs: string[] = [];
  if (type === 'LoadBalancer' && status && typeof status === 'object') {
    const lb = (status as Obj).loadBalancer as Obj | undefined;
    list(lb?.ingress, 'status.loadBalancer.ingress').forEach((raw, i) => {
      const ing = raw as Obj;
      if (!ing || typeof ing !== 'object' || ing.ip === undefined || ing.ip === '') return; // hostname-only ingress
      if (ing.ipMode === 'Proxy') return; // the LB proxies to the nodes itself: not a VIP here
      loadBalancerIPs.push(ipOf(ing.ip, `status.loadBalancer.ingress[${i}].ip`));
    });
  }
  const sourceRanges = type === 'LoadBalancer'
    ? list(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges').map((v, i) => {
      if (typeof v !== 'string') fail(`spec.loadBalancerSourceRanges[${i}]`)('must be a string');
      return canonicalCidr(v as string, fail(`spec.loadBalancerSourceRanges[${i}]`));
    })
    : [];
  const etp = spec.externalTrafficPolicy ?? 'Cluster';
  if (etp !== 'Cluster' && etp !== 'Local') fail('spec.externalTrafficPolicy')(`must be one of Cluster, Local, got ${JSON.stringify(etp)}`);
  const hc = spec.healthCheckNodePort;
  let healthCheckNodePort = 0;
  if (hc !== undefined && hc !== null && hc !== 0) {
    if (typeof hc !== 'number' || !Number.isInteger(hc) || hc < 1 || hc > 65535) fail('spec.healthCheckNodePort')(`must be an integer between 1 and 65535, got ${JSON.stringify(hc)}`);
    healthCheckNodePort = hc as number;
  }
  const isExternal = type === 'NodePort' || type === 'LoadBalancer';
  if (!isExternal && externalIPs.length === 0) return undefined;
  return {
    type: type as ExternalServiceInfo['type'], nodePorts, externalIPs, loadBalancerIPs, sourceRanges,
    // eTP applies to every external address (externalIPs of a ClusterIP service included).
    local: etp === 'Local',
    healthCheckNodePort: etp === 'Local' && isExternal ? healthCheckNodePort : 0,
  };
}

/** A v1 Node's addresses of the given types (InternalIP, ExternalIP), canonical, in API order. */
export function nodeAddressesOf(node: Obj, types: readonly string[] = ['InternalIP', 'ExternalIP']): string[] {
  const status = node.status as Obj | undefined;
  const addrs = Array.isArray(status?.addresses) ? status?.addresses as Obj[] : [];
  const out: string[] = [];
  for (const a of addrs) {
    if (!a || !types.includes(a.type as string) || typeof a.address !== 'string' || ipFamily(a.address) === 0) continue;
    const ip = canonicalIp(a.address);
    if (!out.includes(ip)) out.push(ip);
  }
  return out;
}

/**
 * This node's external context. `nodePortAddresses` (CIDRs, kube-proxy's option) selects among
 * `candidates` (the node's addresses, plus local interface addresses when known); empty or
 * ["primary"] means the first address of each family in `nodeAddresses` (the Node's primary IPs).
 */
export function externalNodeContext(nodeAddresses: readonly string[], nodePortAddresses: readonly string[] = [], candidates: readonly string[] = nodeAddresses): ExternalNodeContext {
  const primary: string[] = [];
  for (const f of [4, 6] as const) { const a = nodeAddresses.find((ip) => ipFamily(ip) === f); if (a) primary.push(a); }
  const cidrs = nodePortAddresses.filter((c) => c !== 'primary').map((c) => canonicalCidr(c, (why) => { throw new InvalidObjectError('Config', 'nodePortAddresses', c, why); }));
  let nodePortIPs = nodePortAddresses.includes('primary') || cidrs.length === 0 ? [...primary] : [];
  for (const ip of candidates) if (cidrs.some((c) => cidrHasIp(c, ip)) && !nodePortIPs.includes(ip)) nodePortIPs.push(ip);
  nodePortIPs = nodePortIPs.map(canonicalIp);
  const m4 = primary.find((ip) => ipFamily(ip) === 4);
  const m6 = primary.find((ip) => ipFamily(ip) === 6);
  return { nodePortIPs, ...(m4 ? { masqueradeIPv4: m4 } : {}), ...(m6 ? { masqueradeIPv6: m6 } : {}) };
}

/** Per (service port × family): the ClusterIP spec's backends, recomputed for external traffic. */
export type BackendsFn = (svc: ServiceInfo, portIndex: number, family: 4 | 6, localOnly: boolean) => ServicePortSpec['backends'];

/** Something worth logging once (model.ts's ModelNote shape). */
export interface ExternalNote { service: string; code: string; message: string }

/**
 * The external ServicePortSpecs of one service: NodePorts on every nodePortIP, LB ingress IPs and
 * externalIPs on the service port; one per address × TCP/UDP port, only in the service's families.
 */
export function externalSpecs(svc: ServiceInfo, node: ExternalNodeContext, backends: BackendsFn, notes?: { push(n: ExternalNote & { code: 'external-no-node-address' }): unknown }): ServicePortSpec[] {
  const ext = svc.external;
  if (!ext || svc.skip) return [];
  const families = new Set(svc.clusterIPs.map(ipFamily));
  const out: ServicePortSpec[] = [];
  svc.ports.forEach((sp, i) => {
    if (sp.protocol === 'SCTP') return; // noted by serviceSpecs already
    const base = sp.name ? `${svc.key}:${sp.name}` : svc.key;
    for (const f of [4, 6] as const) {
      if (!families.has(f)) continue;
      const addrs: [string, number, string][] = [];
      if (ext.nodePorts[i]) for (const ip of node.nodePortIPs) if (ipFamily(ip) === f) addrs.push([ip, ext.nodePorts[i], 'nodePort']);
      for (const ip of ext.loadBalancerIPs) if (ipFamily(ip) === f) addrs.push([ip, sp.port, 'loadBalancer']);
      for (const ip of ext.externalIPs) if (ipFamily(ip) === f) addrs.push([ip, sp.port, 'externalIP']);
      if (addrs.length === 0) continue;
      const masq = f === 4 ? node.masqueradeIPv4 : node.masqueradeIPv6;
      if (!ext.local && !masq) {
        notes?.push({ service: svc.key, code: 'external-no-node-address', message: `IPv${f} external addresses skipped: the node has no IPv${f} address to masquerade to` });
        continue;
      }
      const be = backends(svc, i, f, ext.local);
      for (const [vip, port, kind] of addrs) {
        const spec: ServicePortSpec = { vip, port, protocol: sp.protocol as Protocol, backends: be, name: `${base} (${kind})` };
        if (svc.affinityTimeoutSec > 0) spec.affinityTimeoutSec = svc.affinityTimeoutSec;
        if (!ext.local) spec.masquerade = masq;
        // kube-proxy drops (not rejects) external traffic with no local endpoint under eTP Local.
        if (ext.local) spec.noEndpoints = 'drop';
        // A node address is the host's too: its other ports must reach the host, not a RST.
        if (kind === 'nodePort') spec.sharedAddress = true;
        const ranges = ext.sourceRanges.filter((c) => ipFamily(c.split('/')[0]) === f);
        if (ranges.length && kind === 'loadBalancer') spec.sourceRanges = ranges;
        out.push(spec);
      }
    }
  });
  return out;
}

// ── steering: what the uplink must send into the TUN ────────────────────────────────────────

export interface SteeringOptions {
  /** NodePort range; default 30000-32767. */
  nodePortRange?: readonly [number, number];
  /** Egress masquerade: its source addresses and port range, whose replies come back on the uplink. */
  egressMasquerade?: { sources: readonly string[]; portMin?: number; portMax?: number };
}

/**
 * The whole ordered rule list. Order: health-check ports pass (they sit inside the NodePort
 * range but are served by podnetd's own sockets); LB source ranges allowed, then other sources of
 * a ranged LB IP dropped; exact external VIP ports; the NodePort range and egress-masquerade
 * reply ports on each node address, last.
 */
export function steeringRules(services: Iterable<ServiceInfo>, node: ExternalNodeContext, opts: SteeringOptions = {}): SteerRule[] {
  const pass: SteerRule[] = [], allow: SteerRule[] = [], drop: SteerRule[] = [], vips: SteerRule[] = [], ranges: SteerRule[] = [];
  const seen = new Set<string>();
  const push = (list: SteerRule[], r: SteerRule) => { const k = steerKey(r); if (!seen.has(k)) { seen.add(k); list.push(r); } };
  const protos = (svc: ServiceInfo) => [...new Set(svc.ports.filter((p) => p.protocol !== 'SCTP').map((p) => p.protocol.toLowerCase() as SteerProto))];
  for (const svc of [...services].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const ext = svc.external;
    if (!ext || svc.skip) continue;
    const families = new Set(svc.clusterIPs.map(ipFamily));
    if (ext.healthCheckNodePort) for (const ip of node.nodePortIPs) push(pass, { action: 'pass', family: ipFamily(ip) as 4 | 6, dst: ip, proto: 'tcp', dstPort: ext.healthCheckNodePort });
    for (const sp of svc.ports) {
      if (sp.protocol === 'SCTP') continue;
      const proto = sp.protocol.toLowerCase() as SteerProto;
      for (const ip of ext.loadBalancerIPs) {
        const f = ipFamily(ip) as 4 | 6;
        if (!families.has(f)) continue;
        const ranges = ext.sourceRanges.filter((c) => ipFamily(c.split('/')[0]) === f);
        if (ext.sourceRanges.length === 0) { push(vips, { action: 'redirect', family: f, dst: ip, proto, dstPort: sp.port }); continue; }
        for (const src of ranges) push(allow, { action: 'redirect', family: f, dst: ip, proto, dstPort: sp.port, src });
      }
      for (const ip of ext.externalIPs) {
        const f = ipFamily(ip) as 4 | 6;
        if (families.has(f)) push(vips, { action: 'redirect', family: f, dst: ip, proto, dstPort: sp.port });
      }
    }
    // Everything else to a source-ranged LB IP is dropped, as kube-proxy's firewall chain does.
    if (ext.sourceRanges.length) for (const ip of ext.loadBalancerIPs) {
      const f = ipFamily(ip) as 4 | 6;
      if (families.has(f)) for (const proto of protos(svc)) push(drop, { action: 'drop', family: f, dst: ip, proto });
    }
  }
  const [lo, hi] = opts.nodePortRange ?? DEFAULT_NODEPORT_RANGE;
  for (const ip of node.nodePortIPs) for (const proto of ['tcp', 'udp'] as const) push(ranges, { action: 'redirect', family: ipFamily(ip) as 4 | 6, dst: ip, proto, dstPort: [lo, hi] });
  const em = opts.egressMasquerade;
  if (em) for (const ip of em.sources) for (const proto of ['tcp', 'udp'] as const) {
    push(ranges, { action: 'redirect', family: ipFamily(ip) as 4 | 6, dst: canonicalIp(ip), proto, dstPort: [em.portMin ?? 61000, em.portMax ?? 65535] });
  }
  return [...pass, ...allow, ...drop, ...vips, ...ranges];
}

// ── health check node ports ─────────────────────────────────────────────────────────────────

/** One healthCheckNodePort to serve. */
export interface HealthCheckSpec {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  /** Ready endpoints on this node (distinct addresses), kube-proxy's localEndpoints. */
  readonly localEndpoints: number;
}

/** Every eTP Local service's health check port with its local ready endpoint count. */
export function healthChecks(services: Iterable<ServiceInfo>, slicesOf: (svcKey: string) => Iterable<EndpointSliceInfo>, nodeName: string): HealthCheckSpec[] {
  const out: HealthCheckSpec[] = [];
  for (const svc of services) {
    const port = svc.external?.healthCheckNodePort;
    if (!port || svc.skip) continue;
    // Per family, as kube-proxy's per-family proxiers count them: a dual-stack pod is one endpoint.
    const local = { IPv4: new Set<string>(), IPv6: new Set<string>() } as Record<string, Set<string>>;
    for (const s of slicesOf(svc.key)) for (const ep of s.endpoints) if (ep.ready && ep.nodeName === nodeName) local[s.addressType]?.add(ep.ip);
    out.push({ namespace: svc.namespace, name: svc.name, port, localEndpoints: Math.max(local.IPv4.size, local.IPv6.size) });
  }
  return out.sort((a, b) => a.port - b.port);
}
