// Normalized objects: what sources hand to the change trackers and what the model reads.
// validate.ts turns a v1 Service / discovery.k8s.io/v1 EndpointSlice / v1 Node (as the API
// serves them) into these; fields the data plane never reads (resourceVersion, managedFields,
// status, annotations) are dropped so that updates touching only those are no-ops.

import type { L4Protocol, NamespacedInfo } from '../kube/objects';
import type { ExternalServiceInfo } from './external';

export type { L4Protocol };

/** Why a service gets no data-plane entries at all (undefined = it is programmed). */
export type SkipReason = 'headless' | 'external-name' | 'service-proxy-name' | 'no-cluster-ip';

/** One port of a Service. */
export interface ServicePortInfo {
  /** Port name; '' when the service has a single unnamed port. Matches EndpointSlice ports by name. */
  readonly name: string;
  /** The port clients dial on the ClusterIP. */
  readonly port: number;
  readonly protocol: L4Protocol;
  /** Numeric or named; informational only, the endpoint port comes from the EndpointSlice. */
  readonly targetPort: number | string;
}

/** A v1 Service reduced to what the data plane needs. */
export interface ServiceInfo extends NamespacedInfo {
  /** Canonical ClusterIP literals, one per family (spec.clusterIPs, else spec.clusterIP). */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePortInfo[];
  /** ClientIP affinity timeout in seconds; 0 = no session affinity. */
  readonly affinityTimeoutSec: number;
  /** internalTrafficPolicy: Local. */
  readonly internalLocal: boolean;
  /** spec.trafficDistribution as given (PreferClose, PreferSameZone, PreferSameNode, ...). */
  readonly trafficDistribution?: string;
  /** Set when the service is valid but gets nothing programmed. */
  readonly skip?: SkipReason;
  /** NodePorts, LB ingress IPs, externalIPs and traffic policy (external.ts); absent for ClusterIP-only. */
  readonly external?: ExternalServiceInfo;
}

/** One port of an EndpointSlice. */
export interface EndpointPortInfo {
  readonly name: string;
  /** Undefined means "all ports" in the API; kube-proxy ignores such ports and so do we. */
  readonly port?: number;
  readonly protocol: L4Protocol;
}

/** One endpoint of an EndpointSlice, with its conditions resolved the way kube-proxy does. */
export interface EndpointInfo {
  /** addresses[0], canonical (kube-proxy uses only the first address). */
  readonly ip: string;
  /** conditions.ready, nil = true. */
  readonly ready: boolean;
  /** conditions.serving, nil = true. */
  readonly serving: boolean;
  /** conditions.terminating, nil = false. */
  readonly terminating: boolean;
  readonly nodeName?: string;
  readonly zone?: string;
  /** hints.forZones[].name. */
  readonly zoneHints: readonly string[];
  /** hints.forNodes[].name. */
  readonly nodeHints: readonly string[];
  /** targetRef.name (usually the pod), used as the backend label. */
  readonly targetName?: string;
}

export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';

/** A discovery.k8s.io/v1 EndpointSlice reduced to what the data plane needs. */
export interface EndpointSliceInfo extends NamespacedInfo {
  /** "namespace/service" from the kubernetes.io/service-name label. */
  readonly serviceKey: string;
  readonly addressType: AddressType;
  readonly ports: readonly EndpointPortInfo[];
  readonly endpoints: readonly EndpointInfo[];
  /**
   * endpoints.kubernetes.io/last-change-trigger-time (epoch ms): when the change this version
   * carries happened upstream (a pod became ready, ...). Network programming latency counts
   * from it, like kube-proxy's. Not part of the no-op comparison (fingerprint()).
   */
  readonly triggerTime?: number;
}

/** A v1 Node reduced to what the model needs: its name and zone. */
export interface NodeInfo {
  readonly name: string;
  /** topology.kubernetes.io/zone label. */
  readonly zone?: string;
  /** status.addresses InternalIP + ExternalIP, canonical (NodePort addresses, masquerade source). */
  readonly addresses?: readonly string[];
}
