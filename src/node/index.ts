// Node wiring's public surface for podnetd (wire/unwire, the bridge); the kernel requests are src/netlink/'s.
export { wireNode, unwireNode, gatewayAddrs, DEFAULT_ROUTE_TABLE, type NodeWiringConfig, type WiringResult } from './wiring';
export { ensureBridge, deleteBridge } from './bridge';
export { NodeWiringError, type NodeWiringCode } from './errors';
