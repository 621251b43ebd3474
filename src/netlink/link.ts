// Host-side links over rtnetlink (the `netlink` package): the bridge, the veth pair, port
// isolation and proxy-NDP entries. Everything here runs in the plugin's own network namespace
// (the node's); the container side is reached without setns: the veth peer is created directly
// inside CNI_NETNS (IFLA_NET_NS_FD), already named CNI_IFNAME, with its MAC and MTU.
import { closeSync, openSync, readSync } from 'node:fs';
// Only the rtnetlink part of the package: its index also loads nl80211, wg and genl (~25 ms).
import { FlagsNew } from 'netlink/dist/constants';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt';
import { cstr, nlattr, u32le } from '../node/nlattr';
import { NetlinkError } from './errors';
import { formatIp, ipBytes, parseIp } from './ip';

export type Rtnl = RtNetlinkSocket;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_ISOLATED = 33;
const AF_INET = 2;
const AF_INET6 = 10;

const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;

export function openRtnl(): Rtnl { return createRtNetlink(); }
export function closeRtnl(s: Rtnl): void { s.socket.close(); }

function errno(e: unknown): string {
  const m = /Request rejected: (\w+)/.exec(e instanceof Error ? e.message : String(e));
  return m ? m[1] : '';
}
export const isExists = (e: unknown) => errno(e) === 'EEXIST';
export const isAbsent = (e: unknown) => ['ENOENT', 'ESRCH', 'ENODEV', 'EADDRNOTAVAIL', 'ENXIO'].includes(errno(e));

const u32 = u32le;

export function macString(b: Buffer | undefined): string | undefined {
  return b && b.length === 6 ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined;
}
export function macBytes(s: string): Buffer { return Buffer.from(s.split(':').map((x) => parseInt(x, 16))); }

/** Locally administered unicast MAC: random, or fixed from a seed. */
export function makeMac(seed?: string): string {
  let b: Buffer;
  if (seed) {
    // Only when creating a bridge: node:crypto costs ~5-20 ms to load, too much for every ADD.
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    b = createHash('sha256').update(seed).digest().subarray(0, 6);
  } else {
    b = Buffer.alloc(6);
    const fd = openSync('/dev/urandom', 'r');
    try { readSync(fd, b, 0, 6, null); } finally { closeSync(fd); }
  }
  b[0] = (b[0] & 0xfe) | 0x02;
  return macString(Buffer.from(b))!;
}

/**
 * The bridge's MAC, fixed from its name (same derivation as podnetd's src/node/bridge.ts):
 * otherwise the bridge takes the lowest MAC of its ports, which changes as pods come and go
 * and leaves every pod with a stale neighbour entry for its gateway.
 */
export function bridgeMac(name: string): string {
  return makeMac(`podnet-bridge:${name}`);
}

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

export interface LinkInfo { index: number; name: string; mac?: string; mtu?: number; master?: number; peerIndex?: number; alias?: string }

export async function getLink(s: Rtnl, name: string): Promise<LinkInfo | undefined> {
  try {
    const [m] = await s.getLink({}, { ifname: name });
    if (!m) return undefined;
    const a = m.attrs;
    return {
      index: m.data.index!, name, mac: macString(a.address), mtu: a.mtu, master: a.master,
      peerIndex: a.link && a.link.length >= 4 ? a.link.readUInt32LE(0) : undefined,
      alias: a.ifalias,
    };
  } catch (e) {
    if (isAbsent(e)) return undefined;
    throw new NetlinkError(`get link ${name}`, e);
  }
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
  let created = true;
  try {
    await s.newLink({}, { ifname: name, mtu, address: macBytes(bridgeMac(name)), linkinfo: nlattr(IFLA_INFO_KIND, cstr('bridge')) },
      { flags: CREATE_EXCL });
  } catch (e) {
    if (!isExists(e)) throw new NetlinkError(`create bridge ${name}`, e);
    created = false;
  }
  const link = await getLink(s, name);
  if (!link) throw new NetlinkError(`bridge ${name}`, new Error('vanished after creation'));
  if (created) beforeUp?.();
  try { await s.setLink({ index: link.index, change: { up: true }, flags: { up: true } }); } catch (e) {
    throw new NetlinkError(`set bridge ${name} up`, e);
  }
  return { link, created };
}

/** Adds "10.244.1.1/24" to a link; present already is success. IPv6 without DAD. */
export async function ensureAddress(s: Rtnl, index: number, cidr: string): Promise<void> {
  const [addr, p] = cidr.split('/');
  const ip = parseIp(addr)!;
  const bytes = ipBytes(ip);
  const data = { family: ip.family === 4 ? AF_INET : AF_INET6, prefixlen: Number(p), index, flags: ip.family === 6 ? { nodad: true as const } : {} };
  const attrs = ip.family === 4 ? { address: bytes, local: bytes } : { address: bytes };
  try { await s.newAddress(data, attrs, { flags: CREATE_EXCL }); } catch (e) {
    if (!isExists(e)) throw new NetlinkError(`address ${cidr} on ifindex ${index}`, e);
  }
}

export interface VethSpec {
  hostName: string;
  peerName: string;
  /** An open fd of CNI_NETNS. */
  netnsFd: number;
  mtu: number;
  peerMac: string;
  bridgeIndex: number;
}

/** One RTM_NEWLINK: host end enslaved to the bridge and up, peer born inside the netns (down). */
export async function createVeth(s: Rtnl, v: VethSpec): Promise<LinkInfo> {
  // The peer cannot be set up here: veth_open refuses (ENOTCONN) before the host end exists.
  // configure-netns brings it up together with its addresses.
  const ifinfomsg = Buffer.alloc(16);
  const peer = Buffer.concat([
    ifinfomsg,
    nlattr(IFLA_IFNAME, cstr(v.peerName)),
    nlattr(IFLA_ADDRESS, macBytes(v.peerMac)),
    nlattr(IFLA_MTU, u32(v.mtu)),
    nlattr(IFLA_NET_NS_FD, u32(v.netnsFd)),
  ]);
  const linkinfo = Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('veth')), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, peer))]);
  try {
    await s.newLink({ flags: { up: true }, change: { up: true } },
      { ifname: v.hostName, mtu: v.mtu, master: v.bridgeIndex, linkinfo }, { flags: CREATE_EXCL });
  } catch (e) {
    throw new NetlinkError(`create veth ${v.hostName} <-> ${v.peerName} in netns`, e);
  }
  const link = await getLink(s, v.hostName);
  if (!link) throw new NetlinkError(`veth ${v.hostName}`, new Error('vanished after creation'));
  return link;
}

/** Bridge port flag "isolated": isolated ports reach the bridge, never each other. */
export async function isolatePort(s: Rtnl, index: number): Promise<void> {
  const linkinfo = Buffer.concat([
    nlattr(IFLA_INFO_SLAVE_KIND, cstr('bridge')),
    nlattr(IFLA_INFO_SLAVE_DATA, nlattr(IFLA_BRPORT_ISOLATED, Buffer.from([1]))),
  ]);
  try { await s.newLink({ index }, { linkinfo }); } catch (e) { throw new NetlinkError(`isolate bridge port ${index}`, e); }
}

/** Deletes a link by name; absent is success (DEL idempotency). */
export async function deleteLink(s: Rtnl, name: string): Promise<void> {
  const l = await getLink(s, name);
  if (!l) return;
  try { await s.delLink({ index: l.index }); } catch (e) { if (!isAbsent(e)) throw new NetlinkError(`delete link ${name}`, e); }
}

/**
 * The neighbour "protocol" (NDA_PROTOCOL; 112 is unassigned in iproute2's rt_protos) our proxy
 * entries carry, so GC can tell them from entries someone else added on the bridge by hand.
 */
export const PROXY_PROTO = 112;

/** `ip -6 neigh add proxy ADDR dev BRIDGE protocol 112`: the bridge answers ND for a pod on an isolated port. */
export async function addProxyNeigh(s: Rtnl, bridgeIndex: number, addr: string): Promise<void> {
  const ip = parseIp(addr)!;
  try {
    await s.newNeighbor({ family: AF_INET6, ifindex: bridgeIndex, flags: { proxy: true } },
      { dst: ipBytes(ip), protocol: Buffer.from([PROXY_PROTO]) }, { flags: CREATE_REPLACE });
  } catch (e) { throw new NetlinkError(`proxy NDP entry ${addr}`, e); }
}

export async function delProxyNeigh(s: Rtnl, bridgeIndex: number, addr: string): Promise<void> {
  const ip = parseIp(addr);
  if (!ip) return;
  try {
    await s.delNeighbor({ family: AF_INET6, ifindex: bridgeIndex, flags: { proxy: true } }, { dst: ipBytes(ip) });
  } catch (e) { if (!isAbsent(e)) throw new NetlinkError(`delete proxy NDP entry ${addr}`, e); }
}

/** Proxy NDP entries on the bridge (for GC); `ours` when added by this plugin (PROXY_PROTO). */
export async function listProxyNeighs(s: Rtnl, bridgeIndex: number): Promise<{ address: string; ours: boolean }[]> {
  const out: { address: string; ours: boolean }[] = [];
  // ndm_flags=NTF_PROXY in the dump request selects the proxy table (pneigh), not the cache.
  for (const n of await s.getNeighbors({ family: AF_INET6, flags: { proxy: true } })) {
    if (n.data.ifindex !== bridgeIndex || !n.data.flags?.proxy || !n.attrs.dst) continue;
    let v = 0n;
    for (const byte of n.attrs.dst) v = (v << 8n) | BigInt(byte);
    out.push({ address: formatIp({ family: 6, value: v }), ours: n.attrs.protocol?.[0] === PROXY_PROTO });
  }
  return out;
}

/** The links enslaved to a bridge, with their aliases (for GC). */
export async function bridgePorts(s: Rtnl, bridgeIndex: number): Promise<{ name: string; alias?: string }[]> {
  const links = await s.getLinks();
  return links.filter((l) => l.attrs.master === bridgeIndex && l.attrs.ifname).map((l) => ({ name: l.attrs.ifname!, alias: l.attrs.ifalias }));
}

// The pod's addresses ride on its host veth as the link's alias (IFLA_IFALIAS, `ip link show`
// prints it): they live and die with the attachment, so GC and DEL know a pod's IPv6 proxy
// entries even when the IPAM is a delegated plugin that cannot say what it handed out.
const ALIAS_PREFIX = 'podnet:';

export function podAlias(addresses: string[]): string {
  return [ALIAS_PREFIX, ...addresses.map((a) => a.split('/')[0])].join(' ');
}

/** The addresses of podAlias(); [] for any other alias. */
export function aliasAddresses(alias: string | undefined): string[] {
  const parts = (alias ?? '').split(' ');
  return parts[0] === ALIAS_PREFIX ? parts.slice(1).filter((a) => parseIp(a)) : [];
}

export async function setLinkAlias(s: Rtnl, index: number, alias: string): Promise<void> {
  try { await s.setLink({ index }, { ifalias: alias }); } catch (e) { throw new NetlinkError(`alias of ifindex ${index}`, e); }
}


/**
 * The down veth pair drop filters redirect to (src/node/drop-sink.ts): created here over the
 * socket ADD already has open, which is cheaper than an `ip link add` exec. Left down on purpose.
 */
export async function ensureDropSink(s: Rtnl, name: string, peerName: string): Promise<number> {
  const have = await getLink(s, name);
  if (have) return have.index;
  const peer = Buffer.concat([Buffer.alloc(16), nlattr(IFLA_IFNAME, cstr(peerName))]);
  const linkinfo = Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('veth')), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, peer))]);
  try { await s.newLink({}, { ifname: name, linkinfo }, { flags: CREATE_EXCL }); } catch (e) {
    if (!isExists(e)) throw new NetlinkError(`create drop sink ${name}`, e); // else: a concurrent ADD made it
  }
  const made = await getLink(s, name);
  if (!made) throw new NetlinkError(`drop sink ${name}`, new Error('vanished after creation'));
  return made.index;
}
