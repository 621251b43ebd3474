// Configuration 3: kernel DNAT laid out as kube-proxy's iptables mode lays it out (pkg/proxy/
// iptables): KUBE-SERVICES matched per service from PREROUTING/OUTPUT, a KUBE-SVC chain per
// service port choosing an endpoint with `-m statistic --mode random --probability 1/k`, a
// KUBE-SEP chain per endpoint that DNATs, KUBE-MARK-MASQ/KUBE-POSTROUTING masquerade by mark,
// and KUBE-FORWARD in the filter table. Loaded with iptables-restore (the nft backend, as
// Debian ships it) inside the benchmark's node namespace only.
import { createHash } from 'node:crypto';
import { VIP, routeInKernel, type Topology } from '../topology';
import { flushConntrack } from './nftables';
import { benchServices, vipTargets, withFiller, type BenchService } from './services';
import type { Active, Configuration } from './types';

const CLUSTER_CIDR = '10.244.0.0/16';

function hashName(prefix: string, key: string): string {
  // kube-proxy: prefix + base32(sha256(...))[:16]; any stable 16 chars do here.
  return prefix + createHash('sha256').update(key).digest('hex').slice(0, 16).toUpperCase();
}

export function iptablesRules(services: (BenchService & { vip?: string })[]): string {
  const chains: string[] = [];
  const rules: string[] = [];
  for (const s of services) {
    const vip = s.vip ?? VIP;
    for (const proto of s.protocols) {
      const p = proto.toLowerCase();
      const svc = hashName('KUBE-SVC-', `${vip}/${s.name}/${p}/${s.port}`);
      chains.push(svc);
      const comment = `-m comment --comment "bench/${s.name}:${p} cluster IP"`;
      rules.push(`-A KUBE-SERVICES -d ${vip}/32 -p ${p} ${comment} -m ${p} --dport ${s.port} -j ${svc}`);
      rules.push(`-A ${svc} ! -s ${CLUSTER_CIDR} -d ${vip}/32 -p ${p} ${comment} -m ${p} --dport ${s.port} -j KUBE-MARK-MASQ`);
      const n = s.backends.length;
      s.backends.forEach((ip, i) => {
        const sep = hashName('KUBE-SEP-', `${vip}/${s.name}/${p}/${ip}:${s.port}`);
        chains.push(sep);
        const left = n - i;
        const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
        rules.push(`-A ${svc} -m comment --comment "bench/${s.name}:${p} -> ${ip}:${s.port}"${stat} -j ${sep}`);
        rules.push(`-A ${sep} -s ${ip}/32 -m comment --comment "bench/${s.name}:${p}" -j KUBE-MARK-MASQ`);
        rules.push(`-A ${sep} -p ${p} -m comment --comment "bench/${s.name}:${p}" -m ${p} -j DNAT --to-destination ${ip}:${s.port}`);
      });
    }
  }
  return `*filter
:KUBE-FORWARD - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
${chains.map((c) => `:${c} - [0:0]`).join('\n')}
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
${rules.join('\n')}
COMMIT
`;
}

export function iptablesWith(extra: (topo: Topology) => (BenchService & { vip?: string })[], id = 'iptables', label = 'iptables DNAT (kube-proxy)'): Configuration {
  return {
    id,
    label,
    async setup(topo: Topology): Promise<Active> {
      await routeInKernel(topo.sb);
      const services = withFiller(benchServices(topo), extra(topo));
      await topo.sb.exec(topo.sb.nodeNs, ['iptables-restore', '-w', '5'], { input: iptablesRules(services), timeoutMs: 300_000 });
      return {
        targets: vipTargets(),
        beforeConnrate: () => flushConntrack(topo),
        info: { servicePorts: services.reduce((n, s) => n + s.protocols.length, 0) },
        async teardown() {
          for (const t of ['nat', 'filter']) {
            await topo.sb.exec(topo.sb.nodeNs, ['iptables', '-w', '5', '-t', t, '-F']).catch(() => undefined);
            await topo.sb.exec(topo.sb.nodeNs, ['iptables', '-w', '5', '-t', t, '-X']).catch(() => undefined);
          }
        },
      };
    },
  };
}

export const iptables = iptablesWith(() => []);
