// Errors raised while wiring a node (bridge, sysctls, routes, rules). Stable `code` strings.

export type NodeWiringCode =
  | 'NODE_BAD_ADDRESS'
  | 'NODE_BAD_CIDR'
  | 'NODE_LINK_MISSING'
  | 'NODE_NETLINK'
  | 'NODE_SYSCTL'
  | 'NODE_IPROUTE';

export class NodeWiringError extends Error {
  constructor(readonly code: NodeWiringCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NodeWiringError';
  }
}
