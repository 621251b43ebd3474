// The node bridge: pods' veths attach to it (isolated ports), and it carries the gateway
// addresses pods route through. Created by podnetd or the CNI plugin, whichever comes first.
import { createHash } from 'node:crypto';
import { ipBytes, familyOf } from './cidr';
import {
  CREATE_EXCL, ignoreAbsent, ignoreExists, linkIndex, nlattr, requireLinkIndex, setLinkUp, wrap,
  type Rtnl,
} from './rtnl';

const IFLA_INFO_KIND = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * A fixed, locally administered MAC derived from the bridge name. Without it the bridge takes
 * the lowest MAC of its ports, which changes as pods come and go and leaves every pod with a
 * stale neighbour entry for its gateway.
 */
export function bridgeMac(name: string): Buffer {
  const h = createHash('sha256').update(`podnet-bridge:${name}`).digest();
  const mac = Buffer.from(h.subarray(0, 6));
  mac[0] = (mac[0] & 0xfe) | 0x02;
  return mac;
}

/** Creates the bridge if absent (EEXIST is fine) and returns its ifindex. */
export async function ensureBridgeLink(sock: Rtnl, name: string): Promise<number> {
  const existing = await linkIndex(sock, name);
  if (existing !== undefined) return existing;
  const linkinfo = nlattr(IFLA_INFO_KIND, Buffer.from('bridge\0'));
  await ignoreExists(sock.newLink({}, { ifname: name, linkinfo, address: bridgeMac(name) }, { flags: CREATE_EXCL }));
  return requireLinkIndex(sock, name);
}

/** Adds one gateway address ("10.244.1.1/24"); IPv6 without DAD so it is usable at once. */
export async function ensureAddress(sock: Rtnl, index: number, addrWithPrefix: string): Promise<void> {
  const [ip, p] = addrWithPrefix.split('/');
  const fam = familyOf(ip);
  const bytes = ipBytes(ip);
  const prefixlen = Number(p ?? (fam === 4 ? 32 : 128));
  const data = { family: fam === 4 ? AF_INET : AF_INET6, prefixlen, index, flags: fam === 6 ? { nodad: true as const } : {} };
  const attrs = fam === 4 ? { address: bytes, local: bytes } : { address: bytes, flags: { nodad: true as const } };
  await ignoreExists(sock.newAddress(data, attrs, { flags: CREATE_EXCL }));
}

/** Bridge up with its gateway addresses. */
export async function ensureBridge(sock: Rtnl, name: string, gatewayAddrs: string[]): Promise<number> {
  const index = await ensureBridgeLink(sock, name);
  for (const a of gatewayAddrs) {
    try { await ensureAddress(sock, index, a); } catch (e) { throw wrap(e, `address ${a} on ${name}`); }
  }
  await setLinkUp(sock, index);
  return index;
}

/** Teardown: deletes the bridge (its addresses and connected routes go with it). */
export async function deleteBridge(sock: Rtnl, name: string): Promise<void> {
  const index = await linkIndex(sock, name);
  if (index === undefined) return;
  await ignoreAbsent(sock.delLink({ index }));
}
