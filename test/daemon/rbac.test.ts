// systemd/rbac.yaml grants exactly what podnetd's informers use: every list/watch path in src/
// (an informer's `path: '/api/…'` or `'/apis/…'`) is covered by a ClusterRole rule with both
// verbs, and the role grants no resource that no informer reads, and no verb beyond list/watch.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** "group/resource" for every informer path in src/ ("" is the core group). */
function informerResources(): Set<string> {
  const out = new Set<string>();
  for (const f of tsFiles(path.join(ROOT, 'src'))) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (/^\s*\/\//.test(line)) continue;
      for (const m of line.matchAll(/\bpath:\s*'\/(api\/v1|apis\/([a-z0-9.-]+)\/v[0-9a-z]+)\/([a-z]+)'/g)) {
        out.add(`${m[2] ?? ''}/${m[3]}`);
      }
    }
  }
  return out;
}

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[] }

const docs = parseAllDocuments(readFileSync(path.join(ROOT, 'systemd/rbac.yaml'), 'utf8')).map((d) => d.toJS());
const role = docs.find((d) => d?.kind === 'ClusterRole');
const rules: Rule[] = role?.rules ?? [];

t.test('the RBAC manifest has its three objects', async (t) => {
  t.same(docs.map((d) => d.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']);
  const binding = docs.find((d) => d.kind === 'ClusterRoleBinding');
  const sa = docs.find((d) => d.kind === 'ServiceAccount');
  t.equal(binding.roleRef.name, role.metadata.name, 'the binding names the role');
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
});

t.test('every resource an informer lists is granted list and watch', async (t) => {
  const used = informerResources();
  t.ok(used.size >= 6, `found the informers' paths (${[...used].join(', ')})`);
  for (const r of used) {
    const [group, resource] = r.split('/');
    const ok = rules.some((x) => x.apiGroups.includes(group) && x.resources.includes(resource) && x.verbs.includes('list') && x.verbs.includes('watch'));
    t.ok(ok, `list+watch on ${group || 'core'}/${resource}`);
  }
});

t.test('the role grants nothing else', async (t) => {
  const used = informerResources();
  for (const x of rules) {
    t.same([...x.verbs].sort(), ['list', 'watch'], `verbs of ${x.resources.join(',')}`);
    for (const g of x.apiGroups) for (const r of x.resources) t.ok(used.has(`${g}/${r}`), `${g || 'core'}/${r} is read by an informer`);
  }
});
