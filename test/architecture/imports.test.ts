// The allowed import directions between the folders of src/ (ARCHITECTURE.md draws the same
// picture). Every relative import of every src/ file is resolved to its folder; an import that
// goes the wrong way fails here, naming the file and the line. No root needed.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const SRC = path.join(ROOT, 'src');

const BASE = ['net'];
const KERNEL = ['net', 'netns', 'netlink'];
const PLANE = ['kube', 'sync', 'engine', 'node', ...KERNEL];

/** folder → the folders its files may import (besides itself). */
export const ALLOWED: Record<string, string[]> = {
  net: [],
  netns: [],
  sync: [],
  netlink: ['net', 'netns'],
  kube: BASE,
  engine: BASE,
  node: KERNEL,
  cni: [...KERNEL, 'node'],
  services: PLANE,
  policy: PLANE,
  cluster: PLANE,
  external: [...PLANE, 'services'],
  probe: BASE,
  ctl: ['net', 'netns', 'probe', 'sandbox'],
  daemon: [...PLANE, 'services', 'policy', 'cluster', 'external', 'cni', 'ctl', 'probe'],
  sandbox: [...PLANE, 'services', 'policy', 'cluster', 'external', 'cni', 'ctl', 'probe'],
  demo: [...PLANE, 'services', 'policy', 'cluster', 'external', 'cni', 'ctl', 'sandbox', 'probe'],
};

/** Files that must import nothing of src/ at all: the podnet/v1 wire contract. */
const SELF_CONTAINED = ['ctl/api.ts', 'ctl/api-monitor.ts'];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Import { file: string; line: number; spec: string; target: string; typeOnly: boolean }

// Static imports and re-exports (possibly over several lines), then require() and import().
const STATIC_RE = /^\s*(import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?'([^']+)'/gms;
const DYNAMIC_RE = /\b(?:require|import)\s*\(\s*'([^']+)'\s*\)/g;

/** Relative imports of one file, resolved to paths relative to src/ (or outside it: '../…'). */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8').replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  const lineAt = (i: number) => text.slice(0, i).split('\n').length;
  const found: { spec: string; typeOnly: boolean; at: number }[] = [];
  for (const m of text.matchAll(STATIC_RE)) found.push({ spec: m[3], typeOnly: !!m[2], at: m.index! });
  for (const m of text.matchAll(DYNAMIC_RE)) {
    // `typeof import('./x')` names a type only.
    found.push({ spec: m[1], typeOnly: /typeof\s+$/.test(text.slice(Math.max(0, m.index! - 10), m.index!)), at: m.index! });
  }
  return found.filter((f) => f.spec.startsWith('.')).map((f) => ({
    file: path.relative(SRC, file), line: lineAt(f.at), spec: f.spec, typeOnly: f.typeOnly,
    target: path.relative(SRC, path.resolve(path.dirname(file), f.spec)),
  }));
}

const folderOf = (rel: string) => rel.split(path.sep)[0];

/** The file an import names (src-relative): X.ts or X/index.ts. */
function moduleFile(target: string): string {
  for (const f of [`${target}.ts`, path.join(target, 'index.ts')]) {
    try { if (statSync(path.join(SRC, f)).isFile()) return f; } catch { /* next */ }
  }
  return target;
}

const files = tsFiles(SRC);
const imports = files.flatMap(importsOf);

t.test('every folder of src/ has a place in the graph', async (t) => {
  const folders = new Set(files.map((f) => path.relative(SRC, f)).filter((r) => r.includes(path.sep)).map(folderOf));
  for (const f of folders) t.ok(f in ALLOWED, `src/${f}/ is in the allowed import graph (add it there and to ARCHITECTURE.md)`);
  t.notOk(files.some((f) => path.dirname(f) === SRC), 'no loose files directly in src/');
});

t.test('imports go only the allowed ways', async (t) => {
  const wrong = imports.filter((imp) => {
    if (imp.target.startsWith('..')) return true; // src/ never imports test/ or bench/
    const from = folderOf(imp.file);
    const to = folderOf(imp.target);
    return from !== to && !(ALLOWED[from] ?? []).includes(to);
  });
  t.same(wrong.map((w) => `src/${w.file}:${w.line} imports '${w.spec}' (${folderOf(w.file)} → ${w.target.startsWith('..') ? 'outside src' : folderOf(w.target)})`), [],
    `${imports.length} relative imports in ${files.length} files checked`);
});

t.test('the wire contract is self-contained', async (t) => {
  for (const f of SELF_CONTAINED) {
    const own = imports.filter((imp) => imp.file === f);
    t.same(own.map((i) => i.spec), [], `src/${f} imports nothing of src/`);
  }
});

t.test('no module imports itself back at run time', async (t) => {
  // Folder-level cycles between tools on top (ctl ⇄ sandbox) are allowed by the table above;
  // a cycle between modules is not: Node hands one side a half-initialised module. Type-only
  // imports are erased by the compiler and do not count.
  const edges = new Map<string, Set<string>>();
  for (const imp of imports) {
    if (imp.typeOnly || imp.target.startsWith('..')) continue;
    if (!edges.has(imp.file)) edges.set(imp.file, new Set());
    edges.get(imp.file)!.add(moduleFile(imp.target));
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, trail: string[]) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') { cycles.push([...trail.slice(trail.indexOf(n)), n].join(' → ')); return; }
    state.set(n, 'open');
    for (const m of edges.get(n) ?? []) visit(m, [...trail, n]);
    state.set(n, 'done');
  };
  for (const n of edges.keys()) visit(n, []);
  t.same(cycles, [], 'module-level import graph is acyclic');
});
