// The external-traffic plane's share of podnetd's configuration (keys `external` and
// `engine.egressMasquerade`, and the node keys it reads). podnetd's DaemonConfig
// (src/daemon/config.ts) is checked there and satisfies ExternalNodeConfig.

/** Traffic from outside: where it arrives and which node addresses take NodePorts. */
export interface ExternalConfig {
  /** Links external traffic arrives on, steered into the TUN by tc; [] = no steering, no external specs. */
  uplinks: string[];
  /** `uplinks` absent or "auto" in the config: podnetd picks them at start (src/daemon/defaults.ts). */
  uplinksAuto?: boolean;
  /** kube-proxy's nodePortAddresses: canonical CIDRs, or "primary"; [] = the uplinks' primary address per family. */
  nodePortAddresses: string[];
  /** Inclusive NodePort range steered into the TUN (kube-apiserver's --service-node-port-range). */
  nodePortRange: [number, number];
}

/** engine.egressMasquerade as configured; the engine's EgressMasquerade is built from it at start and its sources follow the uplinks (src/external/controller.ts). */
export interface EgressMasqueradeConfig {
  enabled: boolean;
  /** Destinations that keep the pod address, besides podCIDRs and serviceCIDRs (always exempt). */
  exemptCIDRs: string[];
  /** Masquerade sources (pinned); default: the uplinks' primary address of each family, followed as it changes. */
  sourceIPv4?: string;
  sourceIPv6?: string;
  portMin: number;
  portMax: number;
}

/** What the external traffic controller reads of podnetd's configuration. */
export interface ExternalNodeConfig {
  nodeName: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
  allowHostNetns: boolean;
  tun: { name: string };
  sync: { retryIntervalMs: number };
  external: ExternalConfig;
  egressMasquerade: EgressMasqueradeConfig;
}
