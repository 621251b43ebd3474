// Node wiring's public surface: podnetd (wire/unwire) and the CNI plugin (bridge, proxy NDP).
export { wireNode, unwireNode, gatewayAddrs, DEFAULT_ROUTE_TABLE, type NodeWiringConfig, type WiringResult } from './wiring';
export { ensureBridge, deleteBridge, bridgeMac } from './bridge';
export { ensureProxyNdp, deleteProxyNdp } from './proxy-ndp';
export { openRtnl, closeRtnl, linkIndex } from './rtnl';
export { parseCidr, nthAddress, type Cidr, type Family } from './cidr';
export { NodeWiringError, type NodeWiringCode } from './errors';
