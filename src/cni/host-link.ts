// The plugin's side of the node's links: the bridge as the plugin creates it when podnetd has
// not yet (MTU from the network config, sysctls before up), the host veth's stable name, and the
// alias that records a pod's addresses on it. The kernel requests are src/netlink/'s.
import { bridgeMac } from '../net/mac';
import { createBridge, getLink, setLinkUp, type LinkInfo } from '../netlink/link';
import { wrap, type Rtnl } from '../netlink/socket';

/** 64-bit FNV-1a: a stable, dependency-free name hash (not a security boundary). */
export function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

/** Host veth name: "pn" + 11 hex of a hash of containerID/ifname: stable, so DEL and GC find it. */
export function hostVethName(containerId: string, ifname: string): string {
  return `pn${fnv1a64(`${containerId}/${ifname}`).toString(16).padStart(16, '0').slice(0, 11)}`;
}

/**
 * Creates the bridge if absent (fixed MAC, MTU) and brings it up; a concurrent creator's EEXIST
 * is fine. `beforeUp` runs between creation and up: the place for per-device sysctls that
 * must precede up (accept_dad=0, or the bridge's link-local stays tentative for ~1 s and the
 * first IPv6 packets of the first pod are lost).
 */
export async function ensureBridge(s: Rtnl, name: string, mtu: number, beforeUp?: () => void): Promise<{ link: LinkInfo; created: boolean }> {
  const have = await getLink(s, name);
  if (have) return { link: have, created: false };
  const created = await createBridge(s, name, bridgeMac(name), mtu);
  const link = await getLink(s, name);
  if (!link) throw wrap(new Error('vanished after creation'), `bridge ${name}`);
  if (created) beforeUp?.();
  await setLinkUp(s, link.index, `bridge ${name}`);
  return { link, created };
}

export { podAlias, aliasAddresses, aliasMac } from '../node/pod-alias';
