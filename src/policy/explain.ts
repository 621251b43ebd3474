// Human-readable views of compiled policy tables, for `podnetctl policies`, logs and tests:
// one line per rule ("x/allow-web: peers 10.244.1.2/32,10.0.0.0/8 except 10.1.0.0/16 ports
// TCP/80,UDP/5000-5010") and, per pod, which policies isolate it and with which rules.
import type { PolicyPeer, PolicyPort, PolicyRule, PolicyTables } from '../engine/types';

export function renderPeer(p: PolicyPeer): string {
  return p.except?.length ? `${p.cidr} except ${p.except.join(' ')}` : p.cidr;
}

export function renderPort(p: PolicyPort): string {
  if (p.port === undefined) return `${p.protocol}/*`;
  return p.endPort !== undefined && p.endPort !== p.port ? `${p.protocol}/${p.port}-${p.endPort}` : `${p.protocol}/${p.port}`;
}

/** "policy: peers … ports …" with "any" for absent lists. */
export function renderRule(r: PolicyRule): string {
  const peers = r.peers?.length ? r.peers.map(renderPeer).join(',') : 'any';
  const ports = r.ports?.length ? r.ports.map(renderPort).join(',') : 'any';
  return `${r.policy}: peers ${peers} ports ${ports}`;
}

export interface DirectionView {
  /** Policies that isolate the pod in this direction. */
  isolatedBy: string[];
  /** Allowed when any of these matches; empty = everything denied. */
  rules: string[];
}

export interface PodPolicyView {
  pod: string;
  ips: string[];
  /** Absent: not isolated, everything passes in this direction. */
  ingress?: DirectionView;
  egress?: DirectionView;
}

/** Per pod: what isolates it and what its rules allow. */
export function describePods(t: PolicyTables): PodPolicyView[] {
  const dir = (idx: number | undefined): DirectionView | undefined => {
    if (idx === undefined) return undefined;
    const set = t.ruleSets[idx];
    return { isolatedBy: [...(set?.isolatedBy ?? [])], rules: (set?.rules ?? []).map(renderRule) };
  };
  return t.pods.map((p) => {
    const ingress = dir(p.ingress);
    const egress = dir(p.egress);
    return { pod: p.name ?? p.ips.join(','), ips: [...p.ips], ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) };
  });
}

/** Sizes of compiled tables (for logs, metrics and the benchmark). */
export function tableSizes(t: PolicyTables): { pods: number; isolated: number; ruleSets: number; rules: number; peers: number } {
  let rules = 0;
  let peers = 0;
  for (const s of t.ruleSets) {
    rules += s.rules.length;
    for (const r of s.rules) peers += r.peers?.length ?? 0;
  }
  const isolated = t.pods.filter((p) => p.ingress !== undefined || p.egress !== undefined).length;
  return { pods: t.pods.length, isolated, ruleSets: t.ruleSets.length, rules, peers };
}
