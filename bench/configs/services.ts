// The three benchmark services every VIP configuration programs, described once: each kernel
// ruleset, haproxy config and podnet tables file is generated from this list.
import type { ServicePortSpec } from '../../src/engine/types';
import { PORTS, VIP, type Topology } from '../topology';
import type { Targets } from './types';

export interface BenchService {
  /** Short name used in chain names, e.g. "iperf". */
  name: string;
  port: number;
  protocols: ('TCP' | 'UDP')[];
  backends: string[];
}

export function benchServices(topo: Topology): BenchService[] {
  return [
    { name: 'iperf', port: PORTS.iperf, protocols: ['TCP', 'UDP'], backends: [topo.srv1.ip4] },
    { name: 'sockperf', port: PORTS.sockperf, protocols: ['TCP'], backends: [topo.srv1.ip4] },
    { name: 'connrate', port: PORTS.connrate, protocols: ['TCP'], backends: [topo.srv1.ip4, topo.srv2.ip4] },
  ];
}

/** The services' first backend reached on its own pod address: pod to pod, no VIP. */
export function podTargets(topo: Topology): Targets {
  const ip = topo.srv1.ip4;
  return {
    iperf: { host: ip, port: PORTS.iperf },
    sockperf: { host: ip, port: PORTS.sockperf },
    connrate: { host: ip, port: PORTS.connrate },
  };
}

export function vipTargets(): Targets {
  return {
    iperf: { host: VIP, port: PORTS.iperf },
    sockperf: { host: VIP, port: PORTS.sockperf },
    connrate: { host: VIP, port: PORTS.connrate },
  };
}

/** The same services as podnet's tables file (one ServicePortSpec per port and protocol). */
export function podnetTables(topo: Topology, extra: ServicePortSpec[] = []): ServicePortSpec[] {
  const specs: ServicePortSpec[] = [];
  for (const s of benchServices(topo)) {
    for (const protocol of s.protocols) {
      specs.push({
        name: `bench/${s.name}:${protocol.toLowerCase()}`, vip: VIP, port: s.port, protocol,
        backends: s.backends.map((ip, i) => ({ ip, port: s.port, name: `${s.name}-${i}` })),
      });
    }
  }
  return [...specs, ...extra];
}

/**
 * The benchmark's services placed in the middle of the filler services: kube-proxy's iptables
 * mode matches KUBE-SERVICES rule by rule, so a service's position decides its cost, and the
 * middle is the average service's.
 */
export function withFiller<T extends BenchService>(own: T[], filler: T[]): T[] {
  const half = Math.floor(filler.length / 2);
  return [...filler.slice(0, half), ...own, ...filler.slice(half)];
}
