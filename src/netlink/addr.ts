// Interface addresses over rtnetlink: `ip addr add` with "already there" as success, and the
// global addresses of every link (`ip -j addr show scope global`), in the kernel's order.
import { parseCidr } from '../net/cidr';
import { ipBytes, ipText } from '../net/ip';
import { CREATE_EXCL, isExists, wrap, type Rtnl } from './socket';

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * Adds an interface address ("10.244.1.1/24": host bits are the address) to ifindex `index`;
 * present already is success. IPv6 without DAD (IFA_F_NODAD), so it is usable at once.
 */
export async function ensureAddress(s: Rtnl, index: number, cidr: string): Promise<void> {
  const c = parseCidr(cidr, 'keep', { bare: true });
  const bytes = ipBytes({ family: c.family, value: c.ip });
  const v6 = c.family === 6;
  const data = { family: v6 ? AF_INET6 : AF_INET, prefixlen: c.prefix, index, flags: v6 ? { nodad: true as const } : {} };
  const attrs = v6 ? { address: bytes, flags: { nodad: true as const } } : { address: bytes, local: bytes };
  try { await s.newAddress(data, attrs, { flags: CREATE_EXCL }); } catch (e) {
    if (!isExists(e)) throw wrap(e, `address ${cidr} on ifindex ${index}`);
  }
}

/** One usable global address of a link (not tentative, not failed DAD, not deprecated). */
export interface LinkAddress {
  index: number;
  ip: string;
  family: 4 | 6;
  /** Not the link's primary address of its subnet (IPv4 `secondary`). */
  secondary: boolean;
}

const RT_SCOPE_UNIVERSE = 0;

/** Every usable global-scope address in the socket's netns, per link in the kernel's order. */
export async function globalAddresses(s: Rtnl): Promise<LinkAddress[]> {
  const out: LinkAddress[] = [];
  for (const a of await s.getAddresses()) {
    if ((a.data.scope ?? 0) !== RT_SCOPE_UNIVERSE || a.data.index === undefined) continue;
    const family = a.data.family === AF_INET ? 4 : a.data.family === AF_INET6 ? 6 : 0;
    const raw = a.attrs.local ?? a.attrs.address;
    if (!family || !raw) continue;
    const flags = a.attrs.flags ?? a.data.flags ?? {};
    if (flags.tentative || flags.dadfailed || flags.deprecated) continue;
    out.push({ index: a.data.index, ip: ipText(Buffer.from(raw)), family, secondary: !!flags.secondary });
  }
  return out;
}
