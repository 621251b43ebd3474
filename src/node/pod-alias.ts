// What a pod's host veth says about the pod: the CNI plugin writes the pod's addresses and its
// interface's MAC into the link's alias (IFLA_IFALIAS, `ip link show` prints it) at ADD:
//   "podnet: 10.244.1.5 fd00:10:244:1::5 mac=02:5a:1c:00:00:07"
// It lives and dies with the attachment, so whoever needs the pod later reads it back: DEL and
// GC (a delegated IPAM cannot say what it handed out), and podnetd's kernel flow cache (the
// pod's MAC and addresses for redirect and anti-spoofing, local-pods.ts). Older aliases have
// no mac= token; they still give the addresses.
import { parseIp } from '../net/ip';

const ALIAS_PREFIX = 'podnet:';
const MAC = /^mac=([0-9a-f]{2}(:[0-9a-f]{2}){5})$/;

export function podAlias(addresses: string[], mac?: string): string {
  return [ALIAS_PREFIX, ...addresses.map((a) => a.split('/')[0]), ...(mac ? [`mac=${mac.toLowerCase()}`] : [])].join(' ');
}

/** The addresses of podAlias(); [] for any other alias. */
export function aliasAddresses(alias: string | undefined): string[] {
  const parts = (alias ?? '').split(' ');
  return parts[0] === ALIAS_PREFIX ? parts.slice(1).filter((a) => parseIp(a)) : [];
}

/** The pod MAC of podAlias(); undefined for an alias without one. */
export function aliasMac(alias: string | undefined): string | undefined {
  const parts = (alias ?? '').split(' ');
  if (parts[0] !== ALIAS_PREFIX) return undefined;
  for (const p of parts.slice(1)) {
    const m = MAC.exec(p);
    if (m) return m[1];
  }
  return undefined;
}
