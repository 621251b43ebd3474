// Label selectors (metav1.LabelSelector semantics) and a per-namespace pod index that answers
// "which pods of namespace N match selector S" without scanning the namespace when the selector
// names a label value: with 10,000 policies over 5,000 pods a scan per policy is 50M matches.
import type { LabelSelector } from './objects';

/** True when `labels` satisfy every matchLabels entry and every expression (AND). */
export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const k in sel.matchLabels) if (labels[k] !== sel.matchLabels[k]) return false;
  for (const e of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In': if (!has || !e.values.includes(labels[e.key])) return false; break;
      // NotIn matches objects without the key, as in Kubernetes.
      case 'NotIn': if (has && e.values.includes(labels[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
    }
  }
  return true;
}

/** The empty selector: every object in scope. */
export function selectsAll(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels).length === 0 && sel.matchExpressions.length === 0;
}

/** Stable key of a selector (validate.ts sorts labels and values). */
export function selectorKey(sel: LabelSelector): string {
  return JSON.stringify(sel);
}

/** Items of one namespace, with buckets by "key=value" to narrow selector matching. */
export class LabelIndex<T extends { labels: Readonly<Record<string, string>> }> {
  private readonly byNs = new Map<string, { all: T[]; buckets: Map<string, T[]> }>();
  private readonly cache = new Map<string, readonly T[]>();

  add(namespace: string, item: T): void {
    let ns = this.byNs.get(namespace);
    if (!ns) this.byNs.set(namespace, ns = { all: [], buckets: new Map() });
    ns.all.push(item);
    for (const k in item.labels) {
      const b = `${k}=${item.labels[k]}`;
      const list = ns.buckets.get(b);
      if (list) list.push(item); else ns.buckets.set(b, [item]);
    }
  }

  namespaces(): IterableIterator<string> {
    return this.byNs.keys();
  }

  /** Items of `namespace` matching `sel`, in insertion order; memoized per (namespace, selector). */
  select(namespace: string, sel: LabelSelector): readonly T[] {
    const ns = this.byNs.get(namespace);
    if (!ns) return [];
    if (selectsAll(sel)) return ns.all;
    const key = `${namespace}\u0000${selectorKey(sel)}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    // The smallest bucket that every match must be in; an In expression narrows to a union.
    let candidates: readonly T[] = ns.all;
    for (const k in sel.matchLabels) {
      const b = ns.buckets.get(`${k}=${sel.matchLabels[k]}`) ?? [];
      if (b.length < candidates.length) candidates = b;
    }
    for (const e of sel.matchExpressions) {
      if (e.operator !== 'In') continue;
      let n = 0;
      for (const v of e.values) n += ns.buckets.get(`${e.key}=${v}`)?.length ?? 0;
      if (n < candidates.length) {
        const set = new Set<T>();
        for (const v of e.values) for (const x of ns.buckets.get(`${e.key}=${v}`) ?? []) set.add(x);
        candidates = ns.all.filter((x) => set.has(x)); // keep insertion order
      }
    }
    const out = candidates.filter((x) => selectorMatches(sel, x.labels));
    this.cache.set(key, out);
    return out;
  }
}
