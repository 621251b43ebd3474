// Configuration 2: kernel DNAT laid out as kube-proxy's nftables mode lays it out (pkg/proxy/
// nftables in kubernetes): a "services" chain dispatching through one verdict map keyed by
// daddr . l4proto . dport, a chain per service port that picks an endpoint with
// `numgen random mod N vmap`, a chain per endpoint that DNATs, masquerade by mark in
// postrouting, and the filter-side checks kube-proxy hooks into prerouting/forward/output.
// Loaded with `nft -f` inside the benchmark's node namespace only.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { VIP, routeInKernel, type Topology } from '../topology';
import { benchServices, vipTargets, withFiller, type BenchService } from './services';
import type { Active, Configuration } from './types';

const CLUSTER_CIDR = '10.244.0.0/16';
const SERVICE_CIDR = '10.96.0.0/16';

function chainName(s: BenchService, proto: string): string {
  return `service-${s.name.toUpperCase()}-bench/${s.name}/${proto.toLowerCase()}/${s.port}`;
}

/** The ruleset as kube-proxy would write it for `services` (all on one ClusterIP each). */
// nft 1.0 wants a `;` before the `}` of a one-line chain.
export function nftRuleset(services: (BenchService & { vip?: string })[]): string {
  const vipOf = (s: BenchService & { vip?: string }) => s.vip ?? VIP;
  const elems: string[] = [];
  const chains: string[] = [];
  let ep = 0;
  for (const s of services) {
    for (const proto of s.protocols) {
      const p = proto.toLowerCase();
      const svc = chainName(s, proto);
      elems.push(`${vipOf(s)} . ${p} . ${s.port} : goto ${svc}`);
      const epChains = s.backends.map((ip) => {
        const name = `endpoint-${(ep++).toString(36).toUpperCase()}-bench/${s.name}/${p}__${ip}/${s.port}`;
        chains.push(`  chain ${name} {
    ip saddr ${ip} jump mark-for-masquerade
    meta l4proto ${p} dnat to ${ip}:${s.port}
  }`);
        return name;
      });
      const pick = epChains.map((c, i) => `${i} : goto ${c}`).join(' , ');
      chains.push(`  chain ${svc} {
    ip daddr ${vipOf(s)} ${p} dport ${s.port} ip saddr != ${CLUSTER_CIDR} jump mark-for-masquerade
    numgen random mod ${epChains.length} vmap { ${pick} }
  }`);
    }
  }
  const clusterIps = [...new Set(services.map(vipOf))];
  return `table ip kube-proxy {
  comment "rules for kube-proxy (benchmark copy)"
  set cluster-ips { type ipv4_addr; elements = { ${clusterIps.join(', ')} } }
  map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }
  map firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { ${elems.join(',\n      ')} } }
  map service-nodeports { type inet_proto . inet_service : verdict; }
  chain filter-prerouting { type filter hook prerouting priority dstnat - 10; policy accept;
    ct state new jump firewall-check
  }
  chain filter-forward { type filter hook forward priority -110; policy accept;
    ct state new jump service-endpoints-check
    ct state new jump cluster-ips-check
  }
  chain filter-output { type filter hook output priority -110; policy accept;
    ct state new jump service-endpoints-check
    ct state new jump firewall-check
  }
  chain firewall-check { ip daddr . meta l4proto . th dport vmap @firewall-ips; }
  chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }
  chain cluster-ips-check {
    ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
    ip daddr ${SERVICE_CIDR} drop comment "Drop traffic to unallocated ClusterIPs"
  }
  chain mark-for-masquerade { mark set mark or 0x4000; }
  chain masquerading {
    mark and 0x4000 == 0 return
    mark set mark xor 0x4000
    masquerade fully-random
  }
  chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }
  chain nat-output { type nat hook output priority -100; policy accept; jump services; }
  chain nat-postrouting { type nat hook postrouting priority srcnat; policy accept; jump masquerading; }
  chain services {
    ip daddr . meta l4proto . th dport vmap @service-ips
    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
  }
${chains.join('\n')}
}
`;
}

/** conntrack -F in the node namespace: kernel DNAT configurations keep one entry per connection. */
export async function flushConntrack(topo: Topology): Promise<void> {
  await topo.sb.exec(topo.sb.nodeNs, ['conntrack', '-F'], { timeoutMs: 30_000 }).catch(() => undefined);
}

export function nftablesWith(extra: (topo: Topology) => (BenchService & { vip?: string })[], id = 'nftables', label = 'nftables DNAT (kube-proxy)'): Configuration {
  return {
    id,
    label,
    async unavailable() { return null; },
    async setup(topo: Topology): Promise<Active> {
      await routeInKernel(topo.sb);
      const services = withFiller(benchServices(topo), extra(topo));
      const file = path.join(topo.sb.dir, 'kube-proxy.nft');
      writeFileSync(file, nftRuleset(services));
      await topo.sb.exec(topo.sb.nodeNs, ['nft', '-f', file], { timeoutMs: 120_000 });
      return {
        targets: vipTargets(),
        beforeConnrate: () => flushConntrack(topo),
        info: { servicePorts: services.reduce((n, s) => n + s.protocols.length, 0) },
        async teardown() { await topo.sb.exec(topo.sb.nodeNs, ['nft', 'delete', 'table', 'ip', 'kube-proxy']).catch(() => undefined); },
      };
    },
  };
}

export const nftables = nftablesWith(() => []);
