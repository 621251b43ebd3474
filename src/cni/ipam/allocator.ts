// host-local's allocation rules on top of a Store: one address per range set (dual-stack is two
// sets), ranges tried in order, allocation continuing after the set's last reserved address and
// wrapping, the gateway and the network/broadcast addresses never handed out, and a requested
// address honoured exactly or refused.
import { ConfigError, ExhaustedError, RequestedIpError } from '../errors';
import type { RangeConf } from '../config';
import { broadcastOf, contains, formatCidr, formatNetwork, networkOf, type Cidr } from '../../net/cidr';
import { formatIp, parseIp, type Family } from '../../net/ip';
import type { Store } from './store';

export interface Range {
  family: Family;
  subnet: Cidr;
  start: bigint;
  end: bigint;
  gateway: bigint;
}

/** Fills defaults (subnet from the node, start/end/gateway from the subnet) and checks bounds. */
export function resolveRangeSets(sets: RangeConf[][], nodeCidrs: () => Cidr[]): Range[][] {
  const fromNode = sets.length === 0 || sets.some((s) => s.some((r) => !r.subnet));
  const node = fromNode ? nodeCidrs() : [];
  const confSets = sets.length ? sets : node.map(() => [{} as RangeConf]);
  return confSets.map((set, i) => set.map((r, j) => {
    const where = `ipam.ranges[${i}][${j}]`;
    const subnet = r.subnet ?? node[i];
    if (!subnet) throw new ConfigError(`${where}.subnet`, undefined, `no subnet and the node has no pod CIDR #${i}`);
    const net = networkOf(subnet);
    const bcast = broadcastOf(subnet);
    const inside = (key: string, v: { family: Family; value: bigint } | undefined, dflt: bigint): bigint => {
      if (!v) return dflt;
      if (v.family !== subnet.family || v.value < net || v.value > bcast) {
        throw new ConfigError(`${where}.${key}`, formatIp(v), `not inside ${formatNetwork(subnet)}`);
      }
      return v.value;
    };
    const range: Range = {
      family: subnet.family,
      subnet: { family: subnet.family, ip: net, prefix: subnet.prefix },
      start: inside('rangeStart', r.rangeStart, net + 1n),
      end: inside('rangeEnd', r.rangeEnd, bcast - 1n),
      gateway: inside('gateway', r.gateway, net + 1n),
    };
    if (range.start > range.end) throw new ConfigError(`${where}.rangeStart`, formatIp({ family: range.family, value: range.start }), 'is after rangeEnd');
    return range;
  }));
}

export interface Allocation {
  /** "10.244.1.5/24" */
  address: string;
  gateway: string;
  family: Family;
}

const str = (r: Range, v: bigint) => formatIp({ family: r.family, value: v });

function allocation(r: Range, v: bigint): Allocation {
  return { address: formatCidr({ family: r.family, ip: v, prefix: r.subnet.prefix }), gateway: str(r, r.gateway), family: r.family };
}

function rangeOf(set: Range[], ip: string): { r: Range; v: bigint } | undefined {
  const p = parseIp(ip);
  if (!p) return undefined;
  const r = set.find((x) => contains(x.subnet, p) && p.value >= x.start && p.value <= x.end);
  return r ? { r, v: p.value } : undefined;
}

/**
 * Reserves one address in range set `index` for (id, ifname). Call under store.withLock.
 * An existing reservation of the same attachment is returned again (a retried ADD).
 */
export function allocate(store: Store, set: Range[], index: number, id: string, ifname: string, requested: string[]): Allocation {
  const mine = store.getById(id, ifname).map((ip) => rangeOf(set, ip)).find(Boolean);
  if (mine) return allocation(mine.r, mine.v);

  const wanted = requested.find((ip) => { const p = parseIp(ip); return p && set.some((r) => r.family === p.family); });
  if (wanted) {
    const hit = rangeOf(set, wanted);
    if (!hit) throw new RequestedIpError(wanted, `is not inside any range of set ${index}`);
    if (hit.v === hit.r.gateway) throw new RequestedIpError(wanted, 'is the gateway');
    const ip = str(hit.r, hit.v);
    if (!store.reserve(id, ifname, ip, index)) {
      const o = store.owner(ip);
      throw new RequestedIpError(wanted, `is already allocated to ${o?.containerId ?? 'another container'}`);
    }
    return allocation(hit.r, hit.v);
  }

  // Continue after the last reservation of this set, as host-local does, so a just-released
  // address is not handed to the next pod at once (stale ARP/conntrack entries elsewhere).
  let ri = 0;
  let next = set[0].start;
  const last = store.lastReserved(index);
  const lastHit = last ? rangeOf(set, last) : undefined;
  if (lastHit) {
    ri = set.indexOf(lastHit.r);
    next = lastHit.v + 1n;
  }
  const total = set.reduce((n, r) => n + (r.end - r.start + 1n), 0n);
  for (let tried = 0n; tried < total; tried++) {
    const r = set[ri];
    if (next > r.end) { ri = (ri + 1) % set.length; next = set[ri].start; }
    const cur = set[ri];
    const v = next;
    next++;
    if (v === cur.gateway || v === networkOf(cur.subnet) || (cur.family === 4 && v === broadcastOf(cur.subnet))) continue;
    if (store.reserve(id, ifname, str(cur, v), index)) return allocation(cur, v);
  }
  throw new ExhaustedError(set.map((r) => `${str(r, r.start)}-${str(r, r.end)}`).join(','));
}
