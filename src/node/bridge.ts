// The node bridge as podnetd sets it up: pods' veths attach to it (isolated ports), it carries
// the gateway addresses pods route through and has a MAC fixed from its name (net/mac.ts
// bridgeMac, the same one the CNI plugin and the sandbox give it). Created by podnetd or the CNI
// plugin, whichever comes first.
import { bridgeMac } from '../net/mac';
import { ensureAddress } from '../netlink/addr';
import { createBridge, deleteLink, requireLinkIndex, linkIndex, setLinkUp } from '../netlink/link';
import { wrap, type Rtnl } from '../netlink/socket';

/** Creates the bridge if absent (EEXIST is fine) and returns its ifindex. */
export async function ensureBridgeLink(sock: Rtnl, name: string): Promise<number> {
  const existing = await linkIndex(sock, name);
  if (existing !== undefined) return existing;
  await createBridge(sock, name, bridgeMac(name));
  return requireLinkIndex(sock, name);
}

/** Bridge up with its gateway addresses ("10.244.1.1/24"). */
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
  await deleteLink(sock, name);
}
