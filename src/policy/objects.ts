// Normalized NetworkPolicy inputs: what validate.ts makes of networking.k8s.io/v1 NetworkPolicy,
// v1 Pod and v1 Namespace objects, and what compile.ts reads. Fields the policy never reads
// (status conditions, annotations, resourceVersion) are dropped, so updates touching only those
// are no-ops for the change trackers; objects are built with a fixed key order (fingerprint()).
import type { L4Protocol, NamespacedInfo } from '../kube/objects';

export type { L4Protocol };

/** The label that the API server sets on every Namespace (equal to its name). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted; empty for Exists / DoesNotExist. */
  readonly values: readonly string[];
}

/** A metav1.LabelSelector; the empty selector (no labels, no expressions) selects everything. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly SelectorRequirement[];
}

/**
 * One entry of from / to. Either pods (podSelector and/or namespaceSelector; at least one set)
 * or an ipBlock. `podSelector` absent with a namespaceSelector = every pod of those namespaces;
 * `namespaceSelector` absent = the policy's own namespace.
 */
export type PeerInfo =
  | { readonly kind: 'pods'; readonly podSelector?: LabelSelector; readonly namespaceSelector?: LabelSelector }
  | { readonly kind: 'ipBlock'; readonly cidr: string; readonly except: readonly string[] };

/** One entry of ports: `port` absent = every port of the protocol; a string is a named port. */
export interface PolicyPortInfo {
  readonly protocol: L4Protocol;
  readonly port?: number | string;
  /** Only with a numeric port. */
  readonly endPort?: number;
}

/** One ingress or egress rule. `peers` / `ports` null = the list was absent or empty: any. */
export interface PolicyRuleInfo {
  readonly peers: readonly PeerInfo[] | null;
  readonly ports: readonly PolicyPortInfo[] | null;
}

/** A NetworkPolicy with its policyTypes defaulted the way the API server does. */
export interface NetworkPolicyInfo extends NamespacedInfo {
  readonly podSelector: LabelSelector;
  /** The policy isolates the pods it selects for ingress (policyTypes contains Ingress). */
  readonly ingressIsolation: boolean;
  readonly egressIsolation: boolean;
  readonly ingress: readonly PolicyRuleInfo[];
  readonly egress: readonly PolicyRuleInfo[];
}

/** A container port with a name: what named ports in policies resolve against. */
export interface NamedPortInfo {
  readonly name: string;
  readonly port: number;
  readonly protocol: L4Protocol;
}

/** Why a valid pod takes no part in policy (neither as a target nor as a peer). */
export type PodSkipReason = 'host-network' | 'terminal' | 'no-ip';

/** A v1 Pod reduced to what policy reads. */
export interface PodInfo extends NamespacedInfo {
  readonly labels: Readonly<Record<string, string>>;
  /** Canonical status.podIPs (else status.podIP). */
  readonly ips: readonly string[];
  /** spec.nodeName, when scheduled. */
  readonly nodeName?: string;
  /** Named container ports (containers, and restartable init containers: sidecars). */
  readonly namedPorts: readonly NamedPortInfo[];
  readonly skip?: PodSkipReason;
}

/** A v1 Namespace: its name and labels (always including kubernetes.io/metadata.name). */
export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}
