// Proxy-NDP entries on the bridge: one per pod IPv6 address (`ip -6 neigh add proxy ADDR dev BR`).
// With proxy_ndp=1 the bridge then answers neighbour solicitations for that pod with its own
// MAC, so IPv6 pod-to-pod traffic is routed through the TUN like IPv4 with proxy ARP.
// Added on pod ADD and removed on DEL (the CNI plugin); the sandbox does the same with `ip`.
import { ipBytes } from './cidr';
import { CREATE_EXCL, ignoreAbsent, ignoreExists, type Rtnl } from './rtnl';

const AF_INET6 = 10;

function header(bridgeIndex: number) {
  return { family: AF_INET6, ifindex: bridgeIndex, flags: { proxy: true as const }, state: { permanent: true as const } };
}

export async function ensureProxyNdp(sock: Rtnl, bridgeIndex: number, ip6: string): Promise<void> {
  await ignoreExists(sock.newNeighbor(header(bridgeIndex), { dst: ipBytes(ip6) }, { flags: CREATE_EXCL }));
}

export async function deleteProxyNdp(sock: Rtnl, bridgeIndex: number, ip6: string): Promise<void> {
  await ignoreAbsent(sock.delNeighbor(header(bridgeIndex), { dst: ipBytes(ip6) }));
}
