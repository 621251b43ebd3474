// Routing that steers traffic into the TUN (the node's policy; netlink/route.ts sends it):
//   main table:  <service CIDR> dev <tun>                      (host-network clients reach VIPs)
//   main table:  <probe address>/32 (/128) dev <tun>           (podnetd's datapath probe, src/probe/)
//   table podnet: default dev <tun>                            (v4 and v6)
//   rule  <podPref>:   from <pod CIDR> iif <bridge> lookup podnet
//   rule  <localPref>: lookup local    (moved from pref 0, see moveLocalRule)
// Each step is idempotent and has a matching teardown for `podnetd --cleanup`.
import { parseNetwork, type Cidr } from '../net/cidr';
import type { Family } from '../net/ip';
import { addRule, deleteRoute, deleteRule, replaceRoute, RT_TABLE_LOCAL, RT_TABLE_MAIN, type RuleSpec } from '../netlink/route';
import { wrap, type Rtnl } from '../netlink/socket';

const IPPROTO_ICMPV6 = 58;

export interface RulePrefs {
  /** ICMPv6 from pods to node addresses goes to the local table first (see ensureNdpBypassRule). */
  ndpBypass: number;
  /** from <pod CIDR> iif <bridge> lookup podnet */
  pod: number;
  /** Where the local table rule moves to: after the pod rule. */
  local: number;
}

export const DEFAULT_PREFS: RulePrefs = { ndpBypass: 99, pod: 100, local: 200 };

/** `ip route replace <cidr> dev <tun>` in the main table. */
export async function ensureServiceRoute(sock: Rtnl, tunIndex: number, cidr: string): Promise<void> {
  const c = parseNetwork(cidr);
  await replaceRoute(sock, { family: c.family, dst: c, oif: tunIndex, table: RT_TABLE_MAIN }, `service route ${cidr}`);
}

export async function deleteServiceRoute(sock: Rtnl, tunIndex: number | undefined, cidr: string): Promise<void> {
  const c = parseNetwork(cidr);
  await deleteRoute(sock, { family: c.family, dst: c, oif: tunIndex, table: RT_TABLE_MAIN });
}

/** `ip route replace <probe address>/32 (/128) dev <tun>` in the main table: the datapath probe's ping reaches the engine. */
export async function ensureProbeRoute(sock: Rtnl, tunIndex: number, address: string): Promise<void> {
  const c = parseNetwork(hostCidr(address));
  await replaceRoute(sock, { family: c.family, dst: c, oif: tunIndex, table: RT_TABLE_MAIN }, `probe route ${address}`);
}

export async function deleteProbeRoute(sock: Rtnl, tunIndex: number | undefined, address: string): Promise<void> {
  const c = parseNetwork(hostCidr(address));
  await deleteRoute(sock, { family: c.family, dst: c, oif: tunIndex, table: RT_TABLE_MAIN });
}

const hostCidr = (address: string) => `${address}/${address.includes(':') ? 128 : 32}`;

/** `ip route replace default dev <tun> table <podnet>` for one family. */
export async function ensurePodTableDefault(sock: Rtnl, tunIndex: number, family: Family, table: number): Promise<void> {
  await replaceRoute(sock, { family, oif: tunIndex, table }, `default route in table ${table} (IPv${family})`);
}

export async function deletePodTableDefault(sock: Rtnl, family: Family, table: number): Promise<void> {
  await deleteRoute(sock, { family, table });
}

function podRule(c: Cidr, bridge: string, table: number, priority: number): RuleSpec {
  return { family: c.family, src: c, iifname: bridge, priority, table };
}

/** `ip rule add pref <pod> from <pod CIDR> iif <bridge> lookup <podnet>`. */
export async function ensurePodRule(sock: Rtnl, podCidr: string, bridge: string, table: number, pref: number): Promise<void> {
  await addRule(sock, podRule(parseNetwork(podCidr), bridge, table, pref), `pod rule ${podCidr}`);
}

export async function deletePodRule(sock: Rtnl, podCidr: string, bridge: string, table: number, pref: number): Promise<void> {
  await deleteRule(sock, podRule(parseNetwork(podCidr), bridge, table, pref));
}

/**
 * `ip -6 rule add pref <ndpBypass> from <pod CIDR> iif <bridge> ipproto ipv6-icmp lookup local`.
 * With the local rule moved behind the pod rule, a pod's unicast neighbour solicitation to its
 * gateway would be forwarded through the TUN (hop limit 254) and dropped by NDP. Looking up the
 * local table first keeps ICMPv6 to node addresses local; anything else falls through (a rule
 * whose table has no match continues with the next rule).
 */
export async function ensureNdpBypassRule(sock: Rtnl, podCidr: string, bridge: string, pref: number): Promise<void> {
  const c = parseNetwork(podCidr);
  if (c.family !== 6) return;
  await addRule(sock, { ...podRule(c, bridge, RT_TABLE_LOCAL, pref), ipProto: IPPROTO_ICMPV6 }, `NDP bypass rule ${podCidr}`);
}

export async function deleteNdpBypassRule(sock: Rtnl, podCidr: string, bridge: string, pref: number): Promise<void> {
  const c = parseNetwork(podCidr);
  if (c.family !== 6) return;
  await deleteRule(sock, { ...podRule(c, bridge, RT_TABLE_LOCAL, pref), ipProto: IPPROTO_ICMPV6 });
}

const localRule = (family: Family, priority: number): RuleSpec => ({ family, priority, table: RT_TABLE_LOCAL });

/**
 * Moves `lookup local` from pref 0 to `pref`, after the pod rule. Otherwise pod traffic to node
 * addresses (and an endpoint's replies to a host-network client of a VIP) is delivered by the
 * local table before the pod rule sees it, bypassing the engine and its reverse NAT.
 * The new rule is added before the old one is removed, so local delivery never stops.
 */
export async function moveLocalRule(sock: Rtnl, family: Family, pref: number): Promise<void> {
  try {
    await addRule(sock, localRule(family, pref));
    await deleteRule(sock, localRule(family, 0));
  } catch (e) { throw wrap(e, `move local rule (IPv${family})`); }
}

/** Teardown of moveLocalRule: local back at pref 0, then our copy removed. */
export async function restoreLocalRule(sock: Rtnl, family: Family, pref: number): Promise<void> {
  await addRule(sock, localRule(family, 0));
  await deleteRule(sock, localRule(family, pref));
}
