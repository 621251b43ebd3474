// What a pod's host veth says about the pod: the CNI plugin writes the pod's addresses and its
// interface's MAC into the link's alias (IFLA_IFALIAS, `ip link show` prints it) at ADD:
//   "podnet: 10.244.1.5 fd00:10:244:1::5 mac=02:5a:1c:00:00:07"
// and, for a pod whose network config says `antiSpoofing: false`, the token antispoof=off:
//   "podnet: 10.244.1.6 mac=02:5a:1c:00:00:08 antispoof=off"
// It lives and dies with the attachment, so whoever needs the pod later reads it back: DEL and
// GC (a delegated IPAM cannot say what it handed out), and podnetd's kernel flow cache (the
// pod's MAC and addresses for redirect and anti-spoofing, and whether to police it at all,
// local-pods.ts). Older aliases have no mac= token (they still give the addresses) and no
// antispoof= token (anti-spoofing on, the config's default).
import { parseIp } from '../net/ip';

const ALIAS_PREFIX = 'podnet:';
const MAC = /^mac=([0-9a-f]{2}(:[0-9a-f]{2}){5})$/;
const ANTISPOOF_OFF = 'antispoof=off';

export interface PodAliasOptions {
  /** false writes antispoof=off; absent or true writes nothing (the default). */
  antiSpoofing?: boolean;
}

export function podAlias(addresses: string[], mac?: string, o: PodAliasOptions = {}): string {
  return [
    ALIAS_PREFIX, ...addresses.map((a) => a.split('/')[0]), ...(mac ? [`mac=${mac.toLowerCase()}`] : []),
    ...(o.antiSpoofing === false ? [ANTISPOOF_OFF] : []),
  ].join(' ');
}

/** The tokens after the prefix of podAlias(); undefined for any other alias. */
function aliasTokens(alias: string | undefined): string[] | undefined {
  const parts = (alias ?? '').split(' ');
  return parts[0] === ALIAS_PREFIX ? parts.slice(1) : undefined;
}

/** The addresses of podAlias(); [] for any other alias. */
export function aliasAddresses(alias: string | undefined): string[] {
  return (aliasTokens(alias) ?? []).filter((a) => parseIp(a));
}

/** The pod MAC of podAlias(); undefined for an alias without one. */
export function aliasMac(alias: string | undefined): string | undefined {
  for (const p of aliasTokens(alias) ?? []) {
    const m = MAC.exec(p);
    if (m) return m[1];
  }
  return undefined;
}

/** Whether the pod of podAlias() wants anti-spoofing: true unless the alias says antispoof=off. */
export function aliasAntiSpoofing(alias: string | undefined): boolean {
  return !(aliasTokens(alias) ?? []).includes(ANTISPOOF_OFF);
}
