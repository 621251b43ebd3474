// Interface addresses over rtnetlink: `ip addr add` with "already there" as success.
import { parseCidr } from '../net/cidr';
import { ipBytes } from '../net/ip';
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
