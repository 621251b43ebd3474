// Validation for policy inputs: the only door from "whatever a manifest file or the API sent"
// into the policy compiler. Each function takes an unknown object in the real API shape and
// returns its normalized form (objects.ts) or throws InvalidObjectError naming the field, with
// the API server's own rules (peer exclusivity, except inside cidr, endPort only with a numeric
// port, selector operators and their values). Nothing here throws anything else.
import { Checker, type Obj } from '../kube/checker';
import { cidrContains, formatCidr, readCidr } from '../net/cidr';
import { canonicalIp, ipFamily } from '../net/ip';
import {
  type L4Protocol, type LabelSelector, NAMESPACE_NAME_LABEL, type NamedPortInfo, type NamespaceInfo,
  type NetworkPolicyInfo, type PeerInfo, type PodInfo, type PodSkipReason, type PolicyPortInfo,
  type PolicyRuleInfo, type SelectorOperator, type SelectorRequirement,
} from './objects';


const PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP'];
const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

function metadata(c: Checker, o: Obj, defaultNamespace: string | undefined): { name: string; namespace: string; labels: Record<string, string> } {
  const md = c.obj(o.metadata, 'metadata') as Obj;
  const name = c.str(md.name, 'metadata.name') as string;
  if (name === '') c.fail('metadata.name', 'must not be empty');
  const namespace = defaultNamespace === undefined ? '' : (c.str(md.namespace, 'metadata.namespace', true) ?? defaultNamespace);
  if (defaultNamespace !== undefined && namespace === '') c.fail('metadata.namespace', 'must not be empty');
  c.object = namespace ? `${namespace}/${name}` : name;
  return { name, namespace, labels: c.labels(md.labels, 'metadata.labels') };
}

/** A metav1.LabelSelector; absent (undefined) stays undefined so peers can tell "absent" from "{}". */
function selector(c: Checker, v: unknown, field: string): LabelSelector | undefined {
  const s = c.obj(v, field, true);
  if (!s) return undefined;
  const matchLabels = c.labels(s.matchLabels, `${field}.matchLabels`);
  const matchExpressions: SelectorRequirement[] = c.arr(s.matchExpressions, `${field}.matchExpressions`).map((re, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const e = c.obj(re, f) as Obj;
    const key = c.str(e.key, `${f}.key`) as string;
    if (key === '') c.fail(`${f}.key`, 'must not be empty');
    const operator = c.oneOf(e.operator, `${f}.operator`, OPERATORS);
    const values = c.arr(e.values, `${f}.values`).map((x, j) => c.str(x, `${f}.values[${j}]`) as string);
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) c.fail(`${f}.values`, `must be non-empty for ${operator}`);
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) c.fail(`${f}.values`, `must be empty for ${operator}`);
    return { key, operator, values: [...new Set(values)].sort() };
  });
  return { matchLabels, matchExpressions };
}

const EMPTY_SELECTOR: LabelSelector = { matchLabels: {}, matchExpressions: [] };

function peer(c: Checker, v: unknown, f: string): PeerInfo {
  const p = c.obj(v, f) as Obj;
  const podSelector = selector(c, p.podSelector, `${f}.podSelector`);
  const namespaceSelector = selector(c, p.namespaceSelector, `${f}.namespaceSelector`);
  const ib = c.obj(p.ipBlock, `${f}.ipBlock`, true);
  if (ib) {
    if (podSelector || namespaceSelector) c.fail(f, 'may not specify both ipBlock and another peer');
    const raw = c.str(ib.cidr, `${f}.ipBlock.cidr`) as string;
    const cidr = readCidr(raw, 'clear');
    if (typeof cidr === 'string') return c.fail(`${f}.ipBlock.cidr`, cidr);
    const except = c.arr(ib.except, `${f}.ipBlock.except`).map((rx, i) => {
      const xf = `${f}.ipBlock.except[${i}]`;
      const x = readCidr(c.str(rx, xf) as string, 'clear');
      if (typeof x === 'string') return c.fail(xf, x);
      if (!cidrContains(cidr, x) || x.prefix === cidr.prefix) c.fail(xf, `must be a strict subset of ${formatCidr(cidr)}`);
      return formatCidr(x);
    });
    return { kind: 'ipBlock', cidr: formatCidr(cidr), except: [...new Set(except)].sort() };
  }
  if (!podSelector && !namespaceSelector) c.fail(f, 'must specify a peer (podSelector, namespaceSelector or ipBlock)');
  return {
    kind: 'pods',
    ...(podSelector ? { podSelector } : {}),
    ...(namespaceSelector ? { namespaceSelector } : {}),
  };
}

function policyPort(c: Checker, v: unknown, f: string): PolicyPortInfo {
  const p = c.obj(v, f) as Obj;
  const protocol = c.oneOf(p.protocol, `${f}.protocol`, PROTOCOLS, 'TCP');
  let port: number | string | undefined;
  if (typeof p.port === 'string') {
    // The API serves a numeric IntOrString as a number, but manifests may quote it.
    if (/^\d+$/.test(p.port)) port = c.int(Number(p.port), `${f}.port`, 1, 65535);
    else if (!IANA_SVC_NAME.test(p.port)) c.fail(`${f}.port`, `not a port number or IANA service name: ${JSON.stringify(p.port)}`);
    else port = p.port;
  } else if (p.port !== undefined && p.port !== null) {
    port = c.int(p.port, `${f}.port`, 1, 65535);
  }
  let endPort: number | undefined;
  if (p.endPort !== undefined && p.endPort !== null) {
    if (port === undefined) c.fail(`${f}.endPort`, 'may not be specified when port is not specified');
    if (typeof port === 'string') c.fail(`${f}.endPort`, 'may not be specified when port is a named port');
    endPort = c.int(p.endPort, `${f}.endPort`, 1, 65535);
    if (endPort < (port as number)) c.fail(`${f}.endPort`, `must be greater than or equal to port (${port})`);
  }
  return { protocol, ...(port !== undefined ? { port } : {}), ...(endPort !== undefined ? { endPort } : {}) };
}

function rules(c: Checker, v: unknown, field: string, peersField: 'from' | 'to'): PolicyRuleInfo[] {
  return c.arr(v, field).map((rr, i) => {
    const f = `${field}[${i}]`;
    const r = c.obj(rr, f) as Obj;
    const peers = c.arr(r[peersField], `${f}.${peersField}`).map((p, j) => peer(c, p, `${f}.${peersField}[${j}]`));
    const ports = c.arr(r.ports, `${f}.ports`).map((p, j) => policyPort(c, p, `${f}.ports[${j}]`));
    // An empty list means the same as an absent one: every peer / every port.
    return { peers: peers.length ? peers : null, ports: ports.length ? ports : null };
  });
}

/**
 * networking.k8s.io/v1 NetworkPolicy → NetworkPolicyInfo, policyTypes defaulted as the API server
 * does: Ingress always, plus Egress when the policy has egress rules. `defaultNamespace` fills a
 * missing metadata.namespace (manifest files, as kubectl does).
 */
export function validateNetworkPolicy(input: unknown, defaultNamespace = 'default'): NetworkPolicyInfo {
  const c = new Checker('NetworkPolicy');
  const o = c.obj(input, '(object)') as Obj;
  const { name, namespace } = metadata(c, o, defaultNamespace);
  const spec = c.obj(o.spec, 'spec') as Obj;
  // podSelector is a non-pointer field in the API: omitted decodes as {} (every pod).
  const podSelector = selector(c, spec.podSelector, 'spec.podSelector') ?? EMPTY_SELECTOR;
  const ingress = rules(c, spec.ingress, 'spec.ingress', 'from');
  const egress = rules(c, spec.egress, 'spec.egress', 'to');
  const types = c.arr(spec.policyTypes, 'spec.policyTypes').map((t, i) => c.oneOf(t, `spec.policyTypes[${i}]`, ['Ingress', 'Egress'] as const));
  if (new Set(types).size !== types.length) c.fail('spec.policyTypes', 'duplicate entries');
  const ingressIsolation = types.length ? types.includes('Ingress') : true;
  const egressIsolation = types.length ? types.includes('Egress') : egress.length > 0;
  return {
    key: `${namespace}/${name}`, namespace, name, podSelector, ingressIsolation, egressIsolation,
    // Rules of a direction the policy does not isolate are inert: dropping them keeps no-op updates no-ops.
    ingress: ingressIsolation ? ingress : [],
    egress: egressIsolation ? egress : [],
  };
}

function containerPorts(c: Checker, list: unknown, field: string, onlySidecars: boolean, out: NamedPortInfo[], seen: Set<string>): void {
  c.arr(list, field).forEach((rc, i) => {
    const cf = `${field}[${i}]`;
    const ct = c.obj(rc, cf) as Obj;
    if (onlySidecars && c.str(ct.restartPolicy, `${cf}.restartPolicy`, true) !== 'Always') return;
    c.arr(ct.ports, `${cf}.ports`).forEach((rp, j) => {
      const pf = `${cf}.ports[${j}]`;
      const p = c.obj(rp, pf) as Obj;
      const port = c.int(p.containerPort, `${pf}.containerPort`, 1, 65535);
      const protocol = c.oneOf(p.protocol, `${pf}.protocol`, PROTOCOLS, 'TCP');
      const pname = c.str(p.name, `${pf}.name`, true);
      if (pname === undefined || pname === '') return;
      if (seen.has(pname)) return; // the API forbids duplicates; the first one wins if one slips through
      seen.add(pname);
      out.push({ name: pname, port, protocol });
    });
  });
}

/** v1 Pod → PodInfo: labels, addresses, named container ports, and whether policy ignores it. */
export function validatePod(input: unknown, defaultNamespace = 'default'): PodInfo {
  const c = new Checker('Pod');
  const o = c.obj(input, '(object)') as Obj;
  const { name, namespace, labels } = metadata(c, o, defaultNamespace);
  const spec = c.obj(o.spec, 'spec') as Obj;
  const hostNetwork = c.bool(spec.hostNetwork, 'spec.hostNetwork') ?? false;
  const nodeName = c.str(spec.nodeName, 'spec.nodeName', true);
  const namedPorts: NamedPortInfo[] = [];
  const seen = new Set<string>();
  containerPorts(c, spec.containers, 'spec.containers', false, namedPorts, seen);
  containerPorts(c, spec.initContainers, 'spec.initContainers', true, namedPorts, seen);
  const status = c.obj(o.status, 'status', true) ?? {};
  const phase = c.str(status.phase, 'status.phase', true);
  const raw = c.arr(status.podIPs, 'status.podIPs');
  const ips: string[] = raw.length
    ? raw.map((r, i) => {
      const f = `status.podIPs[${i}]`;
      const ip = c.str((c.obj(r, f) as Obj).ip, `${f}.ip`) as string;
      if (ipFamily(ip) === 0) c.fail(`${f}.ip`, `not an IP address: ${JSON.stringify(ip)}`);
      return canonicalIp(ip);
    })
    : [];
  const single = c.str(status.podIP, 'status.podIP', true);
  if (!ips.length && single) {
    if (ipFamily(single) === 0) c.fail('status.podIP', `not an IP address: ${JSON.stringify(single)}`);
    ips.push(canonicalIp(single));
  }
  let skip: PodSkipReason | undefined;
  if (hostNetwork) skip = 'host-network';
  else if (phase === 'Succeeded' || phase === 'Failed') skip = 'terminal';
  else if (!ips.length) skip = 'no-ip';
  return {
    key: `${namespace}/${name}`, namespace, name, labels, ips: [...new Set(ips)],
    ...(nodeName ? { nodeName } : {}),
    namedPorts,
    ...(skip ? { skip } : {}),
  };
}

/** v1 Namespace → NamespaceInfo; kubernetes.io/metadata.name is set to the name, as the API server does. */
export function validateNamespace(input: unknown): NamespaceInfo {
  const c = new Checker('Namespace');
  const o = c.obj(input, '(object)') as Obj;
  const { name, labels } = metadata(c, o, undefined);
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}

/** Kinds the policy compiler reads, by apiVersion/kind as they appear in manifests and the API. */
export function policyObjectKind(o: unknown): 'NetworkPolicy' | 'Pod' | 'Namespace' | undefined {
  if (!o || typeof o !== 'object') return undefined;
  const { apiVersion, kind } = o as Obj;
  if (kind === 'NetworkPolicy' && apiVersion === 'networking.k8s.io/v1') return 'NetworkPolicy';
  if (kind === 'Pod' && apiVersion === 'v1') return 'Pod';
  if (kind === 'Namespace' && apiVersion === 'v1') return 'Namespace';
  return undefined;
}
