// The cluster plane's share of podnetd's configuration (key `cluster` and the node keys it reads).
// podnetd's DaemonConfig (src/daemon/config.ts) is checked there and satisfies ClusterNodeConfig.

/** Cross-node pod routing (src/cluster/controller.ts): programmed from the Node objects of the source. */
export interface ClusterConfig {
  /** none: podnetd programs nothing between nodes (another component does, or one node). */
  mode: 'none' | 'routed' | 'vxlan';
  /** The underlay link carrying the Nodes' InternalIPs (routed next hops, VXLAN lower device). */
  uplink: string;
  /** MTU of the uplink, which the VXLAN device's MTU is derived from; default: read from the uplink at each sync. */
  uplinkMtu?: number;
  vxlan: { name: string; vni: number; port: number };
  /** Full re-sync even without Node changes (repairs routes someone deleted). */
  resyncIntervalMs: number;
}

/** What the cluster routing controller reads of podnetd's configuration. */
export interface ClusterNodeConfig {
  nodeName: string;
  podCIDRs: string[];
  /** API source: kubeconfig path, or "in-cluster"; absent: Nodes come from the manifest directory. */
  kubeconfig?: string;
  routeTable?: number;
  /** Where the node's pod CIDRs are recorded for the CNI plugin's IPAM; "" to disable. */
  nodeStateFile: string;
  allowHostNetns: boolean;
  cluster: ClusterConfig;
}
