// Routing that steers traffic into the TUN (DESIGN.md "Data path"):
//   main table:  <service CIDR> dev <tun>                      (host-network clients reach VIPs)
//   table podnet: default dev <tun>                            (v4 and v6)
//   rule  <podPref>:   from <pod CIDR> iif <bridge> lookup podnet
//   rule  <localPref>: lookup local    (moved from pref 0, see moveLocalRule)
// Each step is idempotent and has a matching teardown for `podnetd --cleanup`.
import { parseCidr, type Cidr, type Family } from './cidr';
import { CREATE_EXCL, CREATE_REPLACE, ignoreAbsent, ignoreExists, wrap, type Rtnl } from './rtnl';

const AF = { 4: 2, 6: 10 } as const;
const RT_TABLE_MAIN = 254;
const RT_TABLE_LOCAL = 255;
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

function routeHeader(family: Family, dstLen: number, table: number) {
  return {
    family: AF[family], dstLen, table: table < 256 ? table : 0,
    protocol: 'STATIC' as const, scope: 'UNIVERSE' as const, type: 'UNICAST' as const,
  };
}

/** `ip route replace <cidr> dev <tun>` in the main table. */
export async function ensureServiceRoute(sock: Rtnl, tunIndex: number, cidr: string): Promise<void> {
  const c = parseCidr(cidr);
  try {
    await sock.newRoute(routeHeader(c.family, c.prefix, RT_TABLE_MAIN),
      { dst: c.bytes, oif: tunIndex, table: RT_TABLE_MAIN }, { flags: CREATE_REPLACE });
  } catch (e) { throw wrap(e, `service route ${cidr}`); }
}

export async function deleteServiceRoute(sock: Rtnl, tunIndex: number | undefined, cidr: string): Promise<void> {
  const c = parseCidr(cidr);
  await ignoreAbsent(sock.delRoute(routeHeader(c.family, c.prefix, RT_TABLE_MAIN),
    { dst: c.bytes, table: RT_TABLE_MAIN, ...(tunIndex ? { oif: tunIndex } : {}) }));
}

/** `ip route replace default dev <tun> table <podnet>` for one family. */
export async function ensurePodTableDefault(sock: Rtnl, tunIndex: number, family: Family, table: number): Promise<void> {
  try {
    await sock.newRoute(routeHeader(family, 0, table), { oif: tunIndex, table }, { flags: CREATE_REPLACE });
  } catch (e) { throw wrap(e, `default route in table ${table} (IPv${family})`); }
}

export async function deletePodTableDefault(sock: Rtnl, family: Family, table: number): Promise<void> {
  await ignoreAbsent(sock.delRoute(routeHeader(family, 0, table), { table }));
}

function ruleHeader(family: Family, srcLen: number, table: number) {
  return { family: AF[family], srcLen, table: table < 256 ? table : 0, action: 'toTbl' as const };
}

function podRuleAttrs(c: Cidr, bridge: string, table: number, priority: number) {
  return { src: c.bytes, iifname: bridge, priority, table };
}

/** `ip rule add pref <pod> from <pod CIDR> iif <bridge> lookup <podnet>`. */
export async function ensurePodRule(sock: Rtnl, podCidr: string, bridge: string, table: number, pref: number): Promise<void> {
  const c = parseCidr(podCidr);
  try {
    await ignoreExists(sock.newRule(ruleHeader(c.family, c.prefix, table),
      podRuleAttrs(c, bridge, table, pref), { flags: CREATE_EXCL }));
  } catch (e) { throw wrap(e, `pod rule ${podCidr}`); }
}

export async function deletePodRule(sock: Rtnl, podCidr: string, bridge: string, table: number, pref: number): Promise<void> {
  const c = parseCidr(podCidr);
  await ignoreAbsent(sock.delRule(ruleHeader(c.family, c.prefix, table), podRuleAttrs(c, bridge, table, pref)));
}

/**
 * `ip -6 rule add pref <ndpBypass> from <pod CIDR> iif <bridge> ipproto ipv6-icmp lookup local`.
 * With the local rule moved behind the pod rule, a pod's unicast neighbour solicitation to its
 * gateway would be forwarded through the TUN (hop limit 254) and dropped by NDP. Looking up the
 * local table first keeps ICMPv6 to node addresses local; anything else falls through (a rule
 * whose table has no match continues with the next rule).
 */
export async function ensureNdpBypassRule(sock: Rtnl, podCidr: string, bridge: string, pref: number): Promise<void> {
  const c = parseCidr(podCidr);
  if (c.family !== 6) return;
  try {
    await ignoreExists(sock.newRule(ruleHeader(6, c.prefix, RT_TABLE_LOCAL),
      { ...podRuleAttrs(c, bridge, RT_TABLE_LOCAL, pref), ipProto: IPPROTO_ICMPV6 }, { flags: CREATE_EXCL }));
  } catch (e) { throw wrap(e, `NDP bypass rule ${podCidr}`); }
}

export async function deleteNdpBypassRule(sock: Rtnl, podCidr: string, bridge: string, pref: number): Promise<void> {
  const c = parseCidr(podCidr);
  if (c.family !== 6) return;
  await ignoreAbsent(sock.delRule(ruleHeader(6, c.prefix, RT_TABLE_LOCAL),
    { ...podRuleAttrs(c, bridge, RT_TABLE_LOCAL, pref), ipProto: IPPROTO_ICMPV6 }));
}

/**
 * Moves `lookup local` from pref 0 to `pref`, after the pod rule. Otherwise pod traffic to node
 * addresses (and an endpoint's replies to a host-network client of a VIP) is delivered by the
 * local table before the pod rule sees it, bypassing the engine and its reverse NAT.
 * The new rule is added before the old one is removed, so local delivery never stops.
 */
export async function moveLocalRule(sock: Rtnl, family: Family, pref: number): Promise<void> {
  try {
    await ignoreExists(sock.newRule(ruleHeader(family, 0, RT_TABLE_LOCAL),
      { priority: pref, table: RT_TABLE_LOCAL }, { flags: CREATE_EXCL }));
    await ignoreAbsent(sock.delRule(ruleHeader(family, 0, RT_TABLE_LOCAL), { priority: 0, table: RT_TABLE_LOCAL }));
  } catch (e) { throw wrap(e, `move local rule (IPv${family})`); }
}

/** Teardown of moveLocalRule: local back at pref 0, then our copy removed. */
export async function restoreLocalRule(sock: Rtnl, family: Family, pref: number): Promise<void> {
  await ignoreExists(sock.newRule(ruleHeader(family, 0, RT_TABLE_LOCAL),
    { priority: 0, table: RT_TABLE_LOCAL }, { flags: CREATE_EXCL }));
  await ignoreAbsent(sock.delRule(ruleHeader(family, 0, RT_TABLE_LOCAL), { priority: pref, table: RT_TABLE_LOCAL }));
}
