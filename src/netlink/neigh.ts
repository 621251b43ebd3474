// Proxy neighbour entries over rtnetlink (`ip -6 neigh add proxy ADDR dev BRIDGE`): with
// proxy_ndp=1 the bridge answers neighbour solicitations for that address with its own MAC.
import { formatIp, ipFromBytes, parseIp, mustParseIp, ipBytes } from '../net/ip';
import { CREATE_REPLACE, isAbsent, request, wrap, type Rtnl } from './socket';

const AF_INET6 = 10;

/**
 * The neighbour "protocol" (NDA_PROTOCOL; 112 is unassigned in iproute2's rt_protos) our proxy
 * entries carry, so GC can tell them from entries someone else added on the bridge by hand.
 */
export const PROXY_PROTO = 112;

/** `ip -6 neigh replace proxy ADDR dev BRIDGE protocol 112`. */
export async function addProxyNeigh(s: Rtnl, bridgeIndex: number, addr: string): Promise<void> {
  const ip = mustParseIp(addr);
  await request(s.newNeighbor({ family: AF_INET6, ifindex: bridgeIndex, flags: { proxy: true } },
    { dst: ipBytes(ip), protocol: Buffer.from([PROXY_PROTO]) }, { flags: CREATE_REPLACE }), `proxy NDP entry ${addr}`);
}

/** Removes a proxy entry; absent (or not an address) is success. */
export async function delProxyNeigh(s: Rtnl, bridgeIndex: number, addr: string): Promise<void> {
  const ip = parseIp(addr);
  if (!ip) return;
  try {
    await s.delNeighbor({ family: AF_INET6, ifindex: bridgeIndex, flags: { proxy: true } }, { dst: ipBytes(ip) });
  } catch (e) { if (!isAbsent(e)) throw wrap(e, `delete proxy NDP entry ${addr}`); }
}

/** Proxy entries on the bridge; `ours` when they carry PROXY_PROTO. */
export async function listProxyNeighs(s: Rtnl, bridgeIndex: number): Promise<{ address: string; ours: boolean }[]> {
  const out: { address: string; ours: boolean }[] = [];
  // ndm_flags=NTF_PROXY in the dump request selects the proxy table (pneigh), not the cache.
  for (const n of await s.getNeighbors({ family: AF_INET6, flags: { proxy: true } })) {
    if (n.data.ifindex !== bridgeIndex || !n.data.flags?.proxy || !n.attrs.dst) continue;
    out.push({ address: formatIp(ipFromBytes(n.attrs.dst)), ours: n.attrs.protocol?.[0] === PROXY_PROTO });
  }
  return out;
}
