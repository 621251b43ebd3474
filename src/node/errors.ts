// Errors raised by node wiring's own steps (tc steering). Stable `code` strings. Kernel requests
// fail with src/netlink's NetlinkError, malformed addresses with src/net's AddressError.

export type NodeWiringCode =
  | 'NODE_SYSCTL'
  | 'NODE_IPROUTE';

export class NodeWiringError extends Error {
  constructor(readonly code: NodeWiringCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NodeWiringError';
  }
}
