// The NetworkPolicy compiler: NetworkPolicies + Pods + Namespaces (normalized, objects.ts) →
// the engine's PolicyTables (src/engine/types.ts). Pure: same input, same tables.
//
// Steps, in order:
//   1. live pods: not host-network, not terminal, with an address (only these are targets or peers)
//   2. targets: which policies select each pod, per direction (isolation)
//   3. peers: each rule's from/to resolved to CIDRs (pods become their /32 or /128), once per rule
//   4. ingress sets: per pod, the rules of its isolating policies, named ports resolved on the pod
//      itself; pods with the same policies and the same resolution share one build
//   5. egress sets: per pod, the same rules; a named port is resolved per destination pod, so such a
//      rule is split into one rule per group of peer pods that resolve it alike
//   6. rule sets deduplicated by content; every live local pod gets a table entry
// A rule that can match nothing (a selector matching no pod, a named port no pod has) is left out
// rather than emitted with empty peers/ports, which the engine reads as "any".
import type { PolicyPeer, PolicyPod, PolicyPort, PolicyRule, PolicyRuleSet, PolicyTables } from '../engine/types';
import { cidrContains, hostCidr, parseCidr, type Cidr } from '../net/cidr';
import { canonicalIp, ipFamily, parseIp } from '../net/ip';
import {
  NAMESPACE_NAME_LABEL, type NamespaceInfo, type NetworkPolicyInfo, type PeerInfo, type PodInfo,
  type PolicyPortInfo, type PolicyRuleInfo,
} from './objects';
import { LabelIndex, selectorMatches } from './selector';

export interface PolicyInput {
  policies: readonly NetworkPolicyInfo[];
  pods: readonly PodInfo[];
  namespaces: readonly NamespaceInfo[];
  /** The node's own addresses (traffic between a pod and its node always passes). */
  hostAddresses?: readonly string[];
  /**
   * When set, only pods with this spec.nodeName get table entries (the engine sees only its own
   * pods' traffic); pods everywhere still count as peers. Absent: every pod gets an entry.
   */
  nodeName?: string;
}

/** A live pod, with what matching needs precomputed. */
interface Pod {
  readonly info: PodInfo;
  readonly labels: Readonly<Record<string, string>>;
  readonly cidrs: readonly string[];
}

/** A rule as built, with its content key for deduplication. */
interface Built {
  readonly rule: PolicyRule;
  readonly key: string;
}

/** A rule's from/to resolved: undefined = any peer; otherwise CIDR peers and the pods among them. */
interface Resolved {
  readonly peers: PolicyPeer[] | undefined;
  /** Peer id for content keys ('*' = any). */
  readonly id: string;
  readonly pods: readonly Pod[];
  readonly blocks: ReadonlyArray<{ cidr: Cidr; except: Cidr[] }>;
}

/** Compiles policies, pods and namespaces into the engine's policy tables. */
export function compilePolicy(input: PolicyInput): PolicyTables {
  return new Compiler(input).run();
}

class Compiler {
  private readonly live: Pod[] = [];
  private readonly index = new LabelIndex<Pod>();
  private readonly nsLabels = new Map<string, Readonly<Record<string, string>>>();
  private readonly policies: NetworkPolicyInfo[];
  private readonly peerLists = new Map<string, { id: string; peers: PolicyPeer[] }>();
  private readonly resolved = new Map<PolicyRuleInfo, Resolved>();
  private readonly resolvedByContent = new Map<string, Resolved>();
  private readonly namedExpansions = new Map<string, Array<{ r: Resolved; ports: PolicyPort[] }>>();
  private readonly plainRules = new Map<string, Built[]>();
  private readonly egressRules = new Map<NetworkPolicyInfo, Built[]>();
  private readonly ruleSets: PolicyRuleSet[] = [];
  private readonly setIndex = new Map<string, number>();

  constructor(private readonly input: PolicyInput) {
    this.policies = [...input.policies].sort((a, b) => cmp(a.key, b.key));
  }

  run(): PolicyTables {
    this.indexPods();
    const { ingressOf, egressOf } = this.targets();
    const pods: PolicyPod[] = [];
    const ingressCache = new Map<string, number>();
    const egressCache = new Map<string, number>();
    for (const pod of this.live) {
      if (!this.isLocal(pod)) continue;
      const entry: { ips: string[]; name: string; ingress?: number; egress?: number } = { ips: [...pod.info.ips], name: pod.info.key };
      const ing = ingressOf.get(pod);
      if (ing) {
        const key = `${ing.map((p) => p.key).join('\u0000')}\u0001${this.resolutionKey(pod, ing)}`;
        let idx = ingressCache.get(key);
        if (idx === undefined) ingressCache.set(key, idx = this.ingressSet(pod, ing));
        entry.ingress = idx;
      }
      const eg = egressOf.get(pod);
      if (eg) {
        const key = eg.map((p) => p.key).join('\u0000');
        let idx = egressCache.get(key);
        if (idx === undefined) egressCache.set(key, idx = this.egressSet(eg));
        entry.egress = idx;
      }
      pods.push(entry);
    }
    const hostAddresses = [...new Set((this.input.hostAddresses ?? []).filter((a) => ipFamily(a) !== 0).map(canonicalIp))];
    return { pods, ruleSets: this.ruleSets, ...(hostAddresses.length ? { hostAddresses } : {}) };
  }

  // 1. Live pods and namespace labels.
  private indexPods(): void {
    for (const ns of this.input.namespaces) this.nsLabels.set(ns.name, ns.labels);
    const sorted = this.input.pods.filter((p) => !p.skip && p.ips.length).sort((a, b) => cmp(a.key, b.key));
    for (const info of sorted) {
      const pod: Pod = { info, labels: info.labels, cidrs: info.ips.map(hostCidr) };
      this.live.push(pod);
      this.index.add(info.namespace, pod);
      // A namespace seen only through its pods (its object not listed yet) still carries the
      // label the API server always sets, so namespaceSelectors on the name work.
      if (!this.nsLabels.has(info.namespace)) this.nsLabels.set(info.namespace, { [NAMESPACE_NAME_LABEL]: info.namespace });
    }
  }

  private isLocal(pod: Pod): boolean {
    return this.input.nodeName === undefined || pod.info.nodeName === this.input.nodeName;
  }

  // 2. Which policies isolate each pod, per direction (in policy key order).
  private targets(): { ingressOf: Map<Pod, NetworkPolicyInfo[]>; egressOf: Map<Pod, NetworkPolicyInfo[]> } {
    const ingressOf = new Map<Pod, NetworkPolicyInfo[]>();
    const egressOf = new Map<Pod, NetworkPolicyInfo[]>();
    for (const pol of this.policies) {
      if (!pol.ingressIsolation && !pol.egressIsolation) continue;
      for (const pod of this.index.select(pol.namespace, pol.podSelector)) {
        if (!this.isLocal(pod)) continue;
        if (pol.ingressIsolation) push(ingressOf, pod, pol);
        if (pol.egressIsolation) push(egressOf, pod, pol);
      }
    }
    return { ingressOf, egressOf };
  }

  // 3. A rule's peers, resolved once per rule.
  private resolve(pol: NetworkPolicyInfo, rule: PolicyRuleInfo): Resolved {
    const hit = this.resolved.get(rule);
    if (hit) return hit;
    // Templated policies repeat the same from/to: resolve each distinct one once. The namespace
    // is part of the key only when a peer is relative to it (podSelector without namespaceSelector).
    const relative = rule.peers?.some((p) => p.kind === 'pods' && !p.namespaceSelector);
    const contentKey = `${relative ? pol.namespace : ''}\u0000${JSON.stringify(rule.peers)}`;
    const same = this.resolvedByContent.get(contentKey);
    if (same) {
      this.resolved.set(rule, same);
      return same;
    }
    let r: Resolved;
    if (!rule.peers) {
      r = { peers: undefined, id: '*', pods: this.live, blocks: [] };
    } else {
      const pods = new Set<Pod>();
      const blocks: Array<{ cidr: Cidr; except: Cidr[] }> = [];
      const peers: PolicyPeer[] = [];
      for (const p of rule.peers) {
        if (p.kind === 'ipBlock') {
          blocks.push({ cidr: parseCidr(p.cidr, 'clear'), except: p.except.map((x) => parseCidr(x, 'clear')) });
          peers.push(p.except.length ? { cidr: p.cidr, except: [...p.except] } : { cidr: p.cidr });
          continue;
        }
        for (const pod of this.peerPods(pol, p)) pods.add(pod);
      }
      const podList = [...pods].sort((a, b) => cmp(a.info.key, b.info.key));
      for (const pod of podList) for (const c of pod.cidrs) peers.push({ cidr: c });
      const { id, peers: canonical } = this.intern(dedupePeers(peers));
      r = { peers: canonical, id, pods: podList, blocks };
    }
    this.resolved.set(rule, r);
    this.resolvedByContent.set(contentKey, r);
    return r;
  }

  /** Pods a podSelector / namespaceSelector peer names. */
  private peerPods(pol: NetworkPolicyInfo, p: Extract<PeerInfo, { kind: 'pods' }>): Pod[] {
    const namespaces = p.namespaceSelector
      ? [...this.nsLabels].filter(([, labels]) => selectorMatches(p.namespaceSelector!, labels)).map(([name]) => name)
      : [pol.namespace];
    const out: Pod[] = [];
    const all = { matchLabels: {}, matchExpressions: [] };
    for (const ns of namespaces) out.push(...this.index.select(ns, p.podSelector ?? all));
    return out;
  }

  /** Interns a peer list: equal lists get one id and share one array (memory, and cheap set keys). */
  private intern(peers: PolicyPeer[]): { id: string; peers: PolicyPeer[] } {
    const json = JSON.stringify(peers);
    let hit = this.peerLists.get(json);
    if (!hit) this.peerLists.set(json, hit = { id: String(this.peerLists.size), peers });
    return hit;
  }

  /** Names (with protocol) of the named ports in the ingress rules of `pols`, resolved on `pod`. */
  private resolutionKey(pod: Pod, pols: readonly NetworkPolicyInfo[]): string {
    const parts: string[] = [];
    for (const pol of pols) {
      for (const rule of pol.ingress) {
        for (const port of rule.ports ?? []) {
          if (typeof port.port === 'string') parts.push(`${port.port}/${port.protocol}=${resolveNamed(pod, port) ?? '-'}`);
        }
      }
    }
    return parts.join(',');
  }

  // 4. Ingress: the destination is the pod itself, so named ports resolve on it.
  private ingressSet(pod: Pod, pols: readonly NetworkPolicyInfo[]): number {
    const rules: Built[] = [];
    for (const pol of pols) {
      const named = pol.ingress.some((r) => r.ports?.some((p) => typeof p.port === 'string'));
      if (!named) {
        let cached = this.plainRules.get(pol.key);
        if (!cached) this.plainRules.set(pol.key, cached = this.ingressRules(pol, undefined));
        rules.push(...cached);
      } else {
        rules.push(...this.ingressRules(pol, pod));
      }
    }
    return this.internSet(rules, pols);
  }

  private ingressRules(pol: NetworkPolicyInfo, pod: Pod | undefined): Built[] {
    const out: Built[] = [];
    for (const rule of pol.ingress) {
      const r = this.resolve(pol, rule);
      if (r.peers && r.peers.length === 0) continue; // selects nobody: matches nothing
      let ports: PolicyPort[] | undefined;
      if (rule.ports) {
        ports = [];
        for (const p of rule.ports) {
          if (typeof p.port !== 'string') { ports.push(numericPort(p)); continue; }
          const n = pod ? resolveNamed(pod, p) : undefined;
          if (n !== undefined) ports.push({ protocol: p.protocol, port: n });
        }
        if (ports.length === 0) continue; // only named ports the pod does not have
      }
      out.push(built(pol.key, r, ports));
    }
    return out;
  }

  // 5. Egress: the destination varies, so named ports are resolved per peer pod.
  private egressSet(pols: readonly NetworkPolicyInfo[]): number {
    const rules: Built[] = [];
    for (const pol of pols) {
      let cached = this.egressRules.get(pol);
      if (!cached) this.egressRules.set(pol, cached = this.egressRulesOf(pol));
      rules.push(...cached);
    }
    return this.internSet(rules, pols);
  }

  private egressRulesOf(pol: NetworkPolicyInfo): Built[] {
    const out: Built[] = [];
    for (const rule of pol.egress) {
      const r = this.resolve(pol, rule);
      if (r.peers && r.peers.length === 0) continue;
      if (!rule.ports) { out.push(built(pol.key, r, undefined)); continue; }
      const numeric = rule.ports.filter((p) => typeof p.port !== 'string').map(numericPort);
      if (numeric.length) out.push(built(pol.key, r, numeric));
      const named = rule.ports.filter((p) => typeof p.port === 'string');
      if (!named.length) continue;
      for (const g of this.expandNamed(r, named)) out.push(built(pol.key, g.r, g.ports));
    }
    return out;
  }

  /** Peer pods of `r` grouped by how they resolve the named ports; memoized per (peers, ports). */
  private expandNamed(r: Resolved, named: readonly PolicyPortInfo[]): Array<{ r: Resolved; ports: PolicyPort[] }> {
    const key = `${r.id}\u0000${named.map((p) => `${p.protocol}/${p.port}`).join(',')}`;
    const hit = this.namedExpansions.get(key);
    if (hit) return hit;
    // Destinations a named port can reach: pods among the peers (ipBlock peers: the live pods inside them).
    const candidates = new Set<Pod>(r.pods);
    if (r.blocks.length) for (const pod of this.live) if (r.blocks.some((b) => inBlock(pod, b))) candidates.add(pod);
    const direct = new Set<Pod>(r.pods);
    const groups = new Map<string, { ports: PolicyPort[]; pods: Pod[] }>();
    for (const pod of [...candidates].sort((a, b) => cmp(a.info.key, b.info.key))) {
      const ports: PolicyPort[] = [];
      for (const p of named) {
        const n = resolveNamed(pod, p);
        if (n !== undefined) ports.push({ protocol: p.protocol, port: n });
      }
      if (!ports.length) continue;
      const gk = ports.map((p) => `${p.protocol}/${p.port}`).join(',');
      const g = groups.get(gk);
      if (g) g.pods.push(pod); else groups.set(gk, { ports, pods: [pod] });
    }
    const out: Array<{ r: Resolved; ports: PolicyPort[] }> = [];
    for (const g of groups.values()) {
      // A pod reached through an ipBlock keeps that block's except: its /32 only matches if not excepted.
      const list = dedupePeers(g.pods.flatMap((pod) => pod.cidrs.filter((c) => direct.has(pod) || inBlocks(c, r.blocks)).map((cidr) => ({ cidr }))));
      if (!list.length) continue;
      const { id, peers } = this.intern(list);
      out.push({ r: { peers, id, pods: g.pods, blocks: [] }, ports: g.ports });
    }
    this.namedExpansions.set(key, out);
    return out;
  }

  // 6. One rule set per distinct content.
  private internSet(rules: Built[], pols: readonly NetworkPolicyInfo[]): number {
    const isolatedBy = pols.map((p) => p.key);
    const key = `${isolatedBy.join('\u0000')}\u0001${rules.map((b) => b.key).join('\u0002')}`;
    let idx = this.setIndex.get(key);
    if (idx === undefined) {
      idx = this.ruleSets.length;
      this.ruleSets.push({ rules: rules.map((b) => b.rule), isolatedBy });
      this.setIndex.set(key, idx);
    }
    return idx;
  }
}

function built(policy: string, r: Resolved, ports: PolicyPort[] | undefined): Built {
  const rule: PolicyRule = { policy, ...(r.peers ? { peers: r.peers } : {}), ...(ports ? { ports } : {}) };
  return { rule, key: `${policy}\u0003${r.id}\u0003${ports ? JSON.stringify(ports) : '*'}` };
}

function numericPort(p: PolicyPortInfo): PolicyPort {
  const out: PolicyPort = { protocol: p.protocol };
  if (typeof p.port === 'number') out.port = p.port;
  if (p.endPort !== undefined) out.endPort = p.endPort;
  return out;
}

/** A named port on a pod: a container port with that name and the same protocol. */
function resolveNamed(pod: Pod, p: PolicyPortInfo): number | undefined {
  const np = pod.info.namedPorts.find((x) => x.name === p.port);
  return np && np.protocol === p.protocol ? np.port : undefined;
}

function inBlocks(cidr: string, blocks: Resolved['blocks']): boolean {
  const host = parseCidr(cidr, 'clear');
  return blocks.some((b) => cidrContains(b.cidr, host) && !b.except.some((x) => cidrContains(x, host)));
}

function inBlock(pod: Pod, b: Resolved['blocks'][number]): boolean {
  return pod.info.ips.some((ip) => {
    const v = parseIp(ip)!;
    const host: Cidr = { family: v.family, ip: v.value, prefix: v.family === 4 ? 32 : 128 };
    return cidrContains(b.cidr, host) && !b.except.some((x) => cidrContains(x, host));
  });
}

function dedupePeers(peers: PolicyPeer[]): PolicyPeer[] {
  const seen = new Set<string>();
  const out: PolicyPeer[] = [];
  for (const p of peers) {
    const k = p.except ? `${p.cidr} ${p.except.join(' ')}` : p.cidr;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
  }
  return out;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v); else m.set(k, [v]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
