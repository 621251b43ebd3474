// Routes and policy-routing rules over rtnetlink. Requests are idempotent the way podnet needs
// them: routes are replaced, rules added with "already there" as success, deletes tolerate
// "not there". What to route where is decided by the callers (src/node/routing.ts).
import { networkOf, type Cidr } from '../net/cidr';
import { ipBytes, type Family } from '../net/ip';
import { CREATE_EXCL, CREATE_REPLACE, ignoreAbsent, ignoreExists, request, type Rtnl } from './socket';

const AF = { 4: 2, 6: 10 } as const;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

/** One unicast static route: `dst` (absent: default) via `oif`, in `table`. */
export interface RouteSpec {
  family: Family;
  dst?: Cidr;
  oif?: number;
  table: number;
}

/** One `lookup <table>` rule. */
export interface RuleSpec {
  family: Family;
  priority: number;
  table: number;
  src?: Cidr;
  iifname?: string;
  ipProto?: number;
}

const networkBytes = (c: Cidr): Buffer => ipBytes({ family: c.family, value: networkOf(c) });

function routeMsg(r: RouteSpec) {
  const header = {
    family: AF[r.family], dstLen: r.dst?.prefix ?? 0, table: r.table < 256 ? r.table : 0,
    protocol: 'STATIC' as const, scope: 'UNIVERSE' as const, type: 'UNICAST' as const,
  };
  const attrs = { ...(r.dst ? { dst: networkBytes(r.dst) } : {}), ...(r.oif ? { oif: r.oif } : {}), table: r.table };
  return [header, attrs] as const;
}

function ruleMsg(r: RuleSpec) {
  const header = { family: AF[r.family], srcLen: r.src?.prefix ?? 0, table: r.table < 256 ? r.table : 0, action: 'toTbl' as const };
  const attrs = {
    ...(r.src ? { src: networkBytes(r.src) } : {}), ...(r.iifname !== undefined ? { iifname: r.iifname } : {}),
    priority: r.priority, table: r.table, ...(r.ipProto !== undefined ? { ipProto: r.ipProto } : {}),
  };
  return [header, attrs] as const;
}

/** `ip route replace …`. */
export async function replaceRoute(s: Rtnl, r: RouteSpec, what: string): Promise<void> {
  const [h, a] = routeMsg(r);
  await request(s.newRoute(h, a, { flags: CREATE_REPLACE }), what);
}

/** `ip route del …`; absent is success. */
export async function deleteRoute(s: Rtnl, r: RouteSpec): Promise<void> {
  const [h, a] = routeMsg(r);
  await ignoreAbsent(s.delRoute(h, a));
}

/** `ip rule add …`; present already is success. */
export async function addRule(s: Rtnl, r: RuleSpec, what?: string): Promise<void> {
  const [h, a] = ruleMsg(r);
  await ignoreExists(s.newRule(h, a, { flags: CREATE_EXCL }), what);
}

/** `ip rule del …`; absent is success. */
export async function deleteRule(s: Rtnl, r: RuleSpec, what?: string): Promise<void> {
  const [h, a] = ruleMsg(r);
  await ignoreAbsent(s.delRule(h, a), what);
}

/** ifindexes of the main table's default routes (IPv4 first; a multipath route gives its first hop's). */
export async function defaultRouteLinks(s: Rtnl): Promise<number[]> {
  const out: number[] = [];
  for (const fam of [4, 6] as const) {
    const routes = await request(s.getRoutes({ family: AF[fam] }), `list IPv${fam} routes`);
    for (const r of routes) {
      const table = r.attrs.table ?? r.data.table;
      if ((r.data.dstLen ?? 0) !== 0 || table !== RT_TABLE_MAIN) continue;
      const t = r.data.type;
      if (t !== undefined && t !== 'UNICAST' && t !== 1) continue;
      // rtnexthop: u16 len, u8 flags, u8 hops, i32 ifindex
      const oif = r.attrs.oif ?? (r.attrs.multipath && r.attrs.multipath.length >= 8 ? r.attrs.multipath.readInt32LE(4) : undefined);
      if (oif && !out.includes(oif)) out.push(oif);
    }
  }
  return out;
}
