// Links over rtnetlink: lookup, up, delete, alias, bridge ports, and the creations podnet needs
// (a bridge with a fixed MAC, a veth pair whose peer is born inside a pod's netns, the down veth
// drop filters redirect to). Which bridge, which names and when is decided by the callers
// (src/node/bridge.ts for podnetd, src/cni/ for the plugin): this file only speaks to the kernel.
import { macBytes, macText } from '../net/mac';
import { cstr, cstrText, nlattr, parseNlattrs, u32le } from './attrs';
import { CREATE_EXCL, isAbsent, isExists, NetlinkError, request, wrap, type Rtnl } from './socket';

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

export interface LinkInfo { index: number; name: string; mac?: string; mtu?: number; master?: number; peerIndex?: number; alias?: string }

function linkInfo(m: { data: { index?: number }; attrs: { ifname?: string; address?: Buffer; mtu?: number; master?: number; link?: Buffer; ifalias?: string } }, name?: string): LinkInfo {
  const a = m.attrs;
  return {
    index: m.data.index!, name: name ?? a.ifname ?? '', mac: macText(a.address), mtu: a.mtu, master: a.master,
    peerIndex: a.link && a.link.length >= 4 ? a.link.readUInt32LE(0) : undefined,
    alias: a.ifalias,
  };
}

/** The link called `name`, or undefined when there is none. */
export async function getLink(s: Rtnl, name: string): Promise<LinkInfo | undefined> {
  try {
    const [m] = await s.getLink({}, { ifname: name });
    return m ? linkInfo(m, name) : undefined;
  } catch (e) {
    if (isAbsent(e)) return undefined;
    throw wrap(e, `get link ${name}`);
  }
}

/** Every link of this namespace: one dump. */
export async function allLinks(s: Rtnl): Promise<LinkInfo[]> {
  return (await request(s.getLinks(), 'list links')).filter((m) => m.attrs.ifname).map((m) => linkInfo(m));
}

/** Every link's name by ifindex. */
export async function linkNames(s: Rtnl): Promise<Map<number, string>> {
  const links = await request(s.getLinks(), 'list links');
  return new Map(links.filter((l) => l.data.index !== undefined && l.attrs.ifname).map((l) => [l.data.index!, l.attrs.ifname!]));
}

/** ifindex of a link by name, or undefined when absent. */
export async function linkIndex(s: Rtnl, name: string): Promise<number | undefined> {
  return (await getLink(s, name))?.index;
}

/** ifindex of a link that must exist (NETLINK_LINK_MISSING otherwise). */
export async function requireLinkIndex(s: Rtnl, name: string): Promise<number> {
  const idx = await linkIndex(s, name);
  if (idx === undefined) throw new NetlinkError('NETLINK_LINK_MISSING', `link ${name} does not exist`);
  return idx;
}

/** `ip link set <index> up`; `what` names the link in the error. */
export async function setLinkUp(s: Rtnl, index: number, what = `link ${index}`): Promise<void> {
  await request(s.setLink({ index, change: { up: true }, flags: { up: true } }), `set ${what} up`);
}

/**
 * Creates bridge `name` with `mac` (and `mtu` when given), down. False when it exists already
 * (a concurrent creator's EEXIST included).
 */
export async function createBridge(s: Rtnl, name: string, mac: Buffer, mtu?: number): Promise<boolean> {
  try {
    await s.newLink({}, { ifname: name, ...(mtu !== undefined ? { mtu } : {}), address: mac, linkinfo: nlattr(IFLA_INFO_KIND, cstr('bridge')) },
      { flags: CREATE_EXCL });
    return true;
  } catch (e) {
    if (!isExists(e)) throw wrap(e, `create bridge ${name}`);
    return false;
  }
}

/** IFLA_LINKINFO of a veth whose peer has `peerAttrs` (VETH_INFO_PEER: an ifinfomsg, then them). */
function vethLinkinfo(peerAttrs: Buffer[]): Buffer {
  const peer = Buffer.concat([Buffer.alloc(16), ...peerAttrs]);
  return Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('veth')), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, peer))]);
}

export interface VethSpec {
  hostName: string;
  peerName: string;
  /** An open fd of the peer's network namespace. */
  netnsFd: number;
  mtu: number;
  peerMac: string;
  bridgeIndex: number;
}

/** One RTM_NEWLINK: host end enslaved to the bridge and up, peer born inside the netns (down). */
export async function createVeth(s: Rtnl, v: VethSpec): Promise<LinkInfo> {
  // The peer cannot be set up here: veth_open refuses (ENOTCONN) before the host end exists;
  // whoever configures the namespace brings it up together with its addresses.
  const linkinfo = vethLinkinfo([
    nlattr(IFLA_IFNAME, cstr(v.peerName)),
    nlattr(IFLA_ADDRESS, macBytes(v.peerMac)),
    nlattr(IFLA_MTU, u32le(v.mtu)),
    nlattr(IFLA_NET_NS_FD, u32le(v.netnsFd)),
  ]);
  await request(s.newLink({ flags: { up: true }, change: { up: true } },
    { ifname: v.hostName, mtu: v.mtu, master: v.bridgeIndex, linkinfo }, { flags: CREATE_EXCL }),
  `create veth ${v.hostName} <-> ${v.peerName} in netns`);
  const link = await getLink(s, v.hostName);
  if (!link) throw wrap(new Error('vanished after creation'), `veth ${v.hostName}`);
  return link;
}

/** Bridge port flag "isolated": isolated ports reach the bridge, never each other. */
export async function isolatePort(s: Rtnl, index: number): Promise<void> {
  const linkinfo = Buffer.concat([
    nlattr(IFLA_INFO_SLAVE_KIND, cstr('bridge')),
    nlattr(IFLA_INFO_SLAVE_DATA, nlattr(IFLA_BRPORT_ISOLATED, Buffer.from([1]))),
  ]);
  await request(s.newLink({ index }, { linkinfo }), `isolate bridge port ${index}`);
}

/** Deletes a link by name; absent is success (DEL idempotency). */
export async function deleteLink(s: Rtnl, name: string): Promise<void> {
  const l = await getLink(s, name);
  if (!l) return;
  try { await s.delLink({ index: l.index }); } catch (e) { if (!isAbsent(e)) throw wrap(e, `delete link ${name}`); }
}

/** The links enslaved to a bridge, with their indices and aliases. */
export async function bridgePorts(s: Rtnl, bridgeIndex: number): Promise<{ index: number; name: string; alias?: string }[]> {
  const links = await s.getLinks();
  return links.filter((l) => l.attrs.master === bridgeIndex && l.attrs.ifname)
    .map((l) => ({ index: l.data.index!, name: l.attrs.ifname!, alias: l.attrs.ifalias }));
}

/** Every link of `kind` (IFLA_INFO_KIND: "veth", "bridge", ...) in this namespace: one dump. */
export async function linksOfKind(s: Rtnl, kind: string): Promise<{ index: number; name: string }[]> {
  const links = await request(s.getLinks(), 'list links');
  return links.filter((l) => l.attrs.ifname && l.attrs.linkinfo && parseNlattrs(l.attrs.linkinfo)
    .some((a) => a.type === IFLA_INFO_KIND && cstrText(a.payload) === kind))
    .map((l) => ({ index: l.data.index!, name: l.attrs.ifname! }));
}

/** IFLA_IFALIAS (what `ip link show` prints as "alias"). */
export async function setLinkAlias(s: Rtnl, index: number, alias: string): Promise<void> {
  await request(s.setLink({ index }, { ifalias: alias }), `alias of ifindex ${index}`);
}

/**
 * A veth pair `name` <-> `peerName`, left down (the drop sink: mirred to a down device drops);
 * present already is success. Returns the ifindex of `name`.
 */
export async function ensureDownVeth(s: Rtnl, name: string, peerName: string): Promise<number> {
  const have = await getLink(s, name);
  if (have) return have.index;
  const linkinfo = vethLinkinfo([nlattr(IFLA_IFNAME, cstr(peerName))]);
  try { await s.newLink({}, { ifname: name, linkinfo }, { flags: CREATE_EXCL }); } catch (e) {
    if (!isExists(e)) throw wrap(e, `create drop sink ${name}`); // else: a concurrent creator made it
  }
  const made = await getLink(s, name);
  if (!made) throw wrap(new Error('vanished after creation'), `drop sink ${name}`);
  return made.index;
}

/**
 * The same pair created in another namespace, the one of `netnsFd` (both ends: a peer without
 * its own IFLA_NET_NS_FD would be born in the socket's namespace), without entering it; present
 * there already is success. The socket stays where it is, so nothing is looked up over there.
 */
export async function ensureDownVethIn(s: Rtnl, netnsFd: number, name: string, peerName: string): Promise<void> {
  const linkinfo = vethLinkinfo([nlattr(IFLA_IFNAME, cstr(peerName)), nlattr(IFLA_NET_NS_FD, u32le(netnsFd))]);
  try { await s.newLink({}, { ifname: name, netNsFd: netnsFd, linkinfo }, { flags: CREATE_EXCL }); } catch (e) {
    if (!isExists(e)) throw wrap(e, `create drop sink ${name} in netns fd ${netnsFd}`); // else: there already
  }
}
