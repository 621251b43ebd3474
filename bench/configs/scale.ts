// Scale configurations: the same benchmark services plus filler services so that the
// data plane holds 10, 1,000 or 10,000 services, for podnet, nftables and iptables. What they
// show: whether the per-packet cost and the cost of a new connection stay flat as the service
// table grows (kube-proxy's iptables mode walks KUBE-SERVICES linearly per new connection).
import type { ServicePortSpec } from '../../src/engine/types';
import type { Topology } from '../topology';
import { iptablesWith } from './iptables';
import { nftablesWith } from './nftables';
import { podnet } from './podnet';
import type { BenchService } from './services';
import type { Configuration } from './types';

export const SCALES = [10, 1000, 10000];
/** The benchmark's own services count towards the total. */
const OWN_SERVICES = 3;

/** VIP of filler service i: 10.96.1.1 onwards, never the benchmark VIP 10.96.0.10. */
function fillerVip(i: number): string {
  return `10.96.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/** Filler services: two endpoints each (the server pods, on a port nothing listens on). */
export function fillerServices(topo: Topology, total: number): (BenchService & { vip: string })[] {
  return Array.from({ length: Math.max(0, total - OWN_SERVICES) }, (_, i) => ({
    name: `filler${i}`, vip: fillerVip(i), port: 80, protocols: ['TCP'] as ('TCP' | 'UDP')[],
    backends: [topo.srv1.ip4, topo.srv2.ip4],
  }));
}

function fillerTables(topo: Topology, total: number): ServicePortSpec[] {
  return fillerServices(topo, total).map((s) => ({
    name: `bench/${s.name}:tcp`, vip: s.vip, port: 80, protocol: 'TCP',
    backends: s.backends.map((ip) => ({ ip, port: 8080 })),
  }));
}

const label = (n: number) => n.toLocaleString('en-US');

export const SCALE_CONFIGURATIONS: Configuration[] = SCALES.flatMap((n) => [
  podnet(`podnet-s${n}`, `podnet, ${label(n)} services`, { extraTables: (t) => fillerTables(t, n) }),
  nftablesWith((t) => fillerServices(t, n), `nftables-s${n}`, `nftables, ${label(n)} services`),
  iptablesWith((t) => fillerServices(t, n), `iptables-s${n}`, `iptables, ${label(n)} services`),
]);
