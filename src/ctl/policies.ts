// `podnetctl policies [--pod NAME|IP]`: what each pod on the node is isolated by, per direction,
// with the rules that let traffic through, then the engine's counters per NetworkPolicy. The
// reply is GET /v1/policies (src/ctl/api.ts PoliciesReply); --json prints it unchanged.
import type { PodPolicyEntry, PoliciesReply, PolicyDirectionEntry } from './api';
import { table } from './format';

const INDENT = '             ';

/** "ingress  isolated by a, b" then one "allow …" line per rule, or "not isolated". */
function formatDirection(label: 'ingress' | 'egress', d: PolicyDirectionEntry): string[] {
  const head = `  ${label.padEnd(9)}  `;
  if (!d.isolated) return [`${head}not isolated (everything passes)`];
  const lines = [`${head}isolated by ${d.isolatedBy.join(', ')}`];
  if (d.rules.length === 0) lines.push(`${INDENT}allows nothing: every new ${label} flow is denied`);
  for (const r of d.rules) lines.push(`${INDENT}allow ${r}`);
  return lines;
}

export function formatPod(p: PodPolicyEntry): string {
  return [`pod ${p.name}  ${p.ips.join(' ')}`, ...formatDirection('ingress', p.ingress), ...formatDirection('egress', p.egress)].join('\n');
}

export function formatPolicies(r: PoliciesReply): string {
  const out: string[] = [];
  if (!r.enforcing) out.push('NetworkPolicy is not enforced on this node.');
  if (r.note) out.push(`note: ${r.note}`);
  if (r.pods.length) out.push(r.pods.map(formatPod).join('\n\n'));
  if (r.policies.length) {
    out.push(table(['POLICY', 'ISOLATES', 'ALLOWED FLOWS', 'DENIED INGRESS', 'DENIED EGRESS'],
      r.policies.map((c) => [c.policy, c.isolates.join(',') || '-', c.allowed, c.denied.ingress, c.denied.egress])));
  }
  const s = r.summary;
  if (r.enforcing) {
    out.push(`(policy table v${r.tableVersion}: ${s.pods} pods on this node, ${s.isolated} isolated; ${s.ruleSets} rule sets, ${s.rules} rules, ${s.peers} peers` +
      `${r.pods.length !== s.pods ? `; ${r.pods.length} shown` : ''})`);
  }
  return out.join('\n\n');
}
