// Validation: the only door from "whatever a manifest file or the API sent" into the model.
// Each function takes an unknown object in the real API shape and returns its normalized form
// (objects.ts) or throws InvalidObjectError naming the field. Nothing here throws anything else.
import { canonicalIp, ipFamily } from '../net/ip';
import { Checker, type Obj } from '../kube/checker';
import { nodeAddressesOf, validateExternal } from './external';
import type {
  AddressType, EndpointInfo, EndpointPortInfo, EndpointSliceInfo, L4Protocol, NodeInfo,
  ServiceInfo, ServicePortInfo,
} from './objects';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
const DEFAULT_AFFINITY_TIMEOUT_SEC = 10800;
const MAX_AFFINITY_TIMEOUT_SEC = 86400;


function metadata(c: Checker, o: Obj, defaultNamespace: string | undefined): { name: string; namespace: string; labels: Record<string, string> } {
  const md = c.obj(o.metadata, 'metadata') as Obj;
  const name = c.str(md.name, 'metadata.name') as string;
  if (name === '') c.fail('metadata.name', 'must not be empty');
  const namespace = c.str(md.namespace, 'metadata.namespace', defaultNamespace !== undefined) ?? defaultNamespace ?? '';
  c.object = namespace ? `${namespace}/${name}` : name;
  const labels: Record<string, string> = {};
  const l = c.obj(md.labels, 'metadata.labels', true);
  if (l) {
    for (const k in l) {
      if (!Object.hasOwn(l, k)) continue;
      const v = l[k];
      labels[k] = typeof v === 'string' ? v : String(c.str(v, `metadata.labels[${k}]`));
    }
  }
  return { name, namespace, labels };
}

const PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP'];
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/**
 * v1 Service → ServiceInfo. `defaultNamespace` fills a missing metadata.namespace (manifest files,
 * as kubectl does); the API always sets it.
 */
export function validateService(input: unknown, defaultNamespace?: string): ServiceInfo {
  const c = new Checker('Service');
  const o = c.obj(input, '(object)') as Obj;
  const { name, namespace, labels } = metadata(c, o, defaultNamespace);
  const spec = c.obj(o.spec, 'spec') as Obj;
  const type = c.oneOf(spec.type, 'spec.type', ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const, 'ClusterIP');

  const ports: ServicePortInfo[] = [];
  const rawPorts = c.arr(spec.ports, 'spec.ports');
  const seen = new Set<string>();
  rawPorts.forEach((rp, i) => {
    const f = `spec.ports[${i}]`;
    const p = c.obj(rp, f) as Obj;
    const pname = c.str(p.name, `${f}.name`, true) ?? '';
    if (rawPorts.length > 1 && pname === '') c.fail(`${f}.name`, 'required when the service has more than one port');
    if (seen.has(pname)) c.fail(`${f}.name`, `duplicate port name ${JSON.stringify(pname)}`);
    seen.add(pname);
    const port = c.int(p.port, `${f}.port`, 1, 65535);
    const protocol = c.oneOf(p.protocol, `${f}.protocol`, PROTOCOLS, 'TCP');
    let targetPort: number | string = port;
    if (typeof p.targetPort === 'string') {
      // The API serves numeric IntOrString as a number, but manifests may quote it.
      if (/^\d+$/.test(p.targetPort)) targetPort = c.int(Number(p.targetPort), `${f}.targetPort`, 1, 65535);
      else if (!IANA_SVC_NAME.test(p.targetPort)) c.fail(`${f}.targetPort`, `not a port number or IANA service name: ${JSON.stringify(p.targetPort)}`);
      else targetPort = p.targetPort;
    } else if (p.targetPort !== undefined && p.targetPort !== null) {
      targetPort = c.int(p.targetPort, `${f}.targetPort`, 1, 65535);
    }
    ports.push({ name: pname, port, protocol, targetPort });
  });

  const clusterIP = c.str(spec.clusterIP, 'spec.clusterIP', true) ?? '';
  const rawIPs = c.arr(spec.clusterIPs, 'spec.clusterIPs');
  let clusterIPs: string[] = [];
  const headless = clusterIP === 'None' || rawIPs[0] === 'None';
  if (!headless && type !== 'ExternalName') {
    const list = rawIPs.length ? rawIPs : clusterIP ? [clusterIP] : [];
    clusterIPs = list.map((ip, i) => c.ip(ip, rawIPs.length ? `spec.clusterIPs[${i}]` : 'spec.clusterIP'));
    if (clusterIPs.length > 2) c.fail('spec.clusterIPs', 'at most two addresses (one per family)');
    if (clusterIPs.length === 2 && ipFamily(clusterIPs[0]) === ipFamily(clusterIPs[1])) c.fail('spec.clusterIPs', 'the two addresses must be of different families');
    if (clusterIP && rawIPs.length && canonicalIp(clusterIP) !== clusterIPs[0]) c.fail('spec.clusterIP', 'must equal spec.clusterIPs[0]');
  }

  const affinity = c.oneOf(spec.sessionAffinity, 'spec.sessionAffinity', ['None', 'ClientIP'] as const, 'None');
  let affinityTimeoutSec = 0;
  if (affinity === 'ClientIP') {
    const cfg = c.obj(spec.sessionAffinityConfig, 'spec.sessionAffinityConfig', true);
    const cip = cfg && c.obj(cfg.clientIP, 'spec.sessionAffinityConfig.clientIP', true);
    const t = cip?.timeoutSeconds;
    affinityTimeoutSec = t === undefined || t === null
      ? DEFAULT_AFFINITY_TIMEOUT_SEC
      : c.int(t, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', 1, MAX_AFFINITY_TIMEOUT_SEC);
  }
  const itp = c.oneOf(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', ['Cluster', 'Local'] as const, 'Cluster');
  const trafficDistribution = c.str(spec.trafficDistribution, 'spec.trafficDistribution', true);

  let skip: ServiceInfo['skip'];
  if (labels[SERVICE_PROXY_NAME_LABEL] !== undefined) skip = 'service-proxy-name';
  else if (type === 'ExternalName') skip = 'external-name';
  else if (headless) skip = 'headless';
  else if (clusterIPs.length === 0) skip = 'no-cluster-ip';

  const external = validateExternal(`${namespace}/${name}`, spec, c.obj(o.status, 'status', true), ports.length);
  const out: ServiceInfo = {
    key: `${namespace}/${name}`, namespace, name, clusterIPs, ports, affinityTimeoutSec,
    internalLocal: itp === 'Local',
    ...(trafficDistribution !== undefined ? { trafficDistribution } : {}),
    ...(skip ? { skip } : {}),
    ...(external ? { external } : {}),
  };
  return out;
}

const ADDRESS_TYPES: readonly AddressType[] = ['IPv4', 'IPv6', 'FQDN'];

/** Shared by every endpoint without hints (nearly all): one empty list instead of two per endpoint. */
const NO_HINTS: readonly string[] = Object.freeze([]);

function hintNames(c: Checker, v: unknown, field: string): readonly string[] {
  const list = c.arr(v, field);
  if (list.length === 0) return NO_HINTS;
  return list.map((h, i) => c.str((c.obj(h, `${field}[${i}]`) as Obj).name, `${field}[${i}].name`) as string);
}

export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The slice's last-change-trigger-time (RFC3339) as epoch ms, or undefined when absent or not
 * parseable: like kube-proxy, a bad annotation only costs the latency sample, never the slice.
 */
function triggerTimeOf(md: Obj): number | undefined {
  const a = md.annotations;
  if (!a || typeof a !== 'object') return undefined;
  const v = (a as Obj)[TRIGGER_TIME_ANNOTATION];
  if (typeof v !== 'string' || !RFC3339.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * discovery.k8s.io/v1 EndpointSlice → EndpointSliceInfo, or null when the slice belongs to no
 * service (no kubernetes.io/service-name label): valid, but nothing kube-proxy would read.
 */
export function validateEndpointSlice(input: unknown, defaultNamespace?: string): EndpointSliceInfo | null {
  const c = new Checker('EndpointSlice');
  const o = c.obj(input, '(object)') as Obj;
  const { name, namespace, labels } = metadata(c, o, defaultNamespace);
  const addressType = c.oneOf(o.addressType, 'addressType', ADDRESS_TYPES);
  const family = addressType === 'IPv4' ? 4 : addressType === 'IPv6' ? 6 : undefined;

  const ports: EndpointPortInfo[] = c.arr(o.ports, 'ports').map((rp, i) => {
    const f = `ports[${i}]`;
    const p = c.obj(rp, f) as Obj;
    const pname = c.str(p.name, `${f}.name`, true) ?? '';
    const protocol = c.oneOf(p.protocol, `${f}.protocol`, PROTOCOLS, 'TCP');
    const port = p.port === undefined || p.port === null ? undefined : c.int(p.port, `${f}.port`, 1, 65535);
    return port === undefined ? { name: pname, protocol } : { name: pname, port, protocol };
  });

  const endpoints: EndpointInfo[] = [];
  c.arr(o.endpoints, 'endpoints').forEach((re, i) => {
    const f = `endpoints[${i}]`;
    const e = c.obj(re, f) as Obj;
    const addrs = c.arr(e.addresses, `${f}.addresses`);
    if (addrs.length === 0) c.fail(`${f}.addresses`, 'must have at least one address');
    // FQDN slices are ignored by the model; their addresses are host names, not IPs.
    const ip = family ? c.ip(addrs[0], `${f}.addresses[0]`, family) : String(c.str(addrs[0], `${f}.addresses[0]`));
    const cond = c.obj(e.conditions, `${f}.conditions`, true) ?? {};
    const ready = c.bool(cond.ready, `${f}.conditions.ready`) ?? true;
    const serving = c.bool(cond.serving, `${f}.conditions.serving`) ?? true;
    const terminating = c.bool(cond.terminating, `${f}.conditions.terminating`) ?? false;
    const nodeName = c.str(e.nodeName, `${f}.nodeName`, true);
    const zone = c.str(e.zone, `${f}.zone`, true);
    const hints = c.obj(e.hints, `${f}.hints`, true);
    const zoneHints = hints ? hintNames(c, hints.forZones, `${f}.hints.forZones`) : [];
    const nodeHints = hints ? hintNames(c, hints.forNodes, `${f}.hints.forNodes`) : [];
    const ref = c.obj(e.targetRef, `${f}.targetRef`, true);
    const targetName = ref ? c.str(ref.name, `${f}.targetRef.name`, true) : undefined;
    // Built in place (no spread temporaries): a full sync validates every endpoint in the cluster.
    const ep: { -readonly [K in keyof EndpointInfo]: EndpointInfo[K] } = { ip, ready, serving, terminating, zoneHints, nodeHints };
    if (nodeName !== undefined) ep.nodeName = nodeName;
    if (zone !== undefined) ep.zone = zone;
    if (targetName !== undefined) ep.targetName = targetName;
    endpoints.push(ep);
  });

  const svc = labels[SERVICE_NAME_LABEL];
  if (svc === undefined || svc === '') return null;
  const out: { -readonly [K in keyof EndpointSliceInfo]: EndpointSliceInfo[K] } = {
    key: `${namespace}/${name}`, namespace, name, serviceKey: `${namespace}/${svc}`, addressType, ports, endpoints,
  };
  const trigger = triggerTimeOf(o.metadata as Obj);
  if (trigger !== undefined) out.triggerTime = trigger;
  return out;
}

/** v1 Node → NodeInfo (name and zone label). */
export function validateNode(input: unknown): NodeInfo {
  const c = new Checker('Node');
  const o = c.obj(input, '(object)') as Obj;
  const { name, labels } = metadata(c, o, '');
  const zone = labels[ZONE_LABEL];
  const addresses = nodeAddressesOf(o);
  return { name, ...(zone ? { zone } : {}), ...(addresses.length ? { addresses } : {}) };
}

/** Kinds the control plane reads, by apiVersion/kind as they appear in manifests and the API. */
export function objectKind(o: unknown): 'Service' | 'EndpointSlice' | 'Node' | undefined {
  if (!o || typeof o !== 'object') return undefined;
  const { apiVersion, kind } = o as Obj;
  if (kind === 'Service' && apiVersion === 'v1') return 'Service';
  if (kind === 'EndpointSlice' && apiVersion === 'discovery.k8s.io/v1') return 'EndpointSlice';
  if (kind === 'Node' && apiVersion === 'v1') return 'Node';
  return undefined;
}
