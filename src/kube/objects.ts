// Kubernetes objects as podnet reads them, before any plane trims them: the envelope every kind
// shares (apiVersion, kind, metadata), the List wrapper `kubectl get -o json|yaml` prints, the
// object keys planes index by, and the fingerprint that makes updates touching nothing a plane
// keeps no-ops. Planes validate the rest of each kind themselves (Checker, checker.ts).

/** L4 protocol as Service, EndpointSlice and NetworkPolicy ports name it. */
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

/** The metadata fields podnet reads (everything else is dropped at the edge). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Any Kubernetes object, as the API or a manifest hands it over. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** The identity every namespaced object a plane keeps starts with. */
export interface NamespacedInfo {
  /** "namespace/name" (objectKey). */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
}

/** Kinds podnet reads that are not namespaced: their key is the bare name. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['Node', 'Namespace', 'ServiceCIDR']);

/** "namespace/name" for namespaced objects, "name" for cluster-scoped ones (metadata as given). */
export function objectKey(o: KubeObject): string {
  const md = o.metadata ?? {};
  return md.namespace ? `${md.namespace}/${md.name ?? ''}` : (md.name ?? '');
}

/**
 * The kind and key an object claims, defaulting the namespace as kubectl apply does; undefined
 * when it names no kind or no name. Read without validating (error logs, keep-last-good).
 */
export function claimedKey(o: unknown, defaultNamespace: string): { kind: string; key: string } | undefined {
  if (!o || typeof o !== 'object') return undefined;
  const { kind, metadata } = o as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof kind !== 'string' || typeof metadata?.name !== 'string' || !metadata.name) return undefined;
  if (CLUSTER_SCOPED_KINDS.has(kind)) return { kind, key: metadata.name };
  const ns = typeof metadata.namespace === 'string' ? metadata.namespace : defaultNamespace;
  return { kind, key: `${ns}/${metadata.name}` };
}

/**
 * True for a List as `kubectl get -o json|yaml` prints it (kind List or FooList with items):
 * its items are objects of their own.
 */
export function isList(o: unknown): o is { kind: string; items: unknown[] } {
  const r = o as { kind?: unknown; items?: unknown } | null;
  return !!r && typeof r === 'object' && typeof r.kind === 'string' && r.kind.endsWith('List') && Array.isArray(r.items);
}

/**
 * Stable string form for no-op detection: normalized objects are built with a fixed key order.
 * A `triggerTime` field (an EndpointSlice's last-change-trigger-time) is left out: it only says
 * when a change happened, so an update touching nothing else is still a no-op.
 */
export function fingerprint(o: unknown): string {
  if (o === undefined) return '';
  if (o !== null && typeof o === 'object' && (o as { triggerTime?: unknown }).triggerTime !== undefined) {
    const { triggerTime: _ignored, ...rest } = o as { triggerTime?: unknown };
    return JSON.stringify(rest);
  }
  return JSON.stringify(o);
}
