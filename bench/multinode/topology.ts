// The clusters the cross-node benchmark (main.ts) measures: per mode (routed, vxlan) one 2-node
// sandbox cluster (src/sandbox/cluster.ts) per configuration, all alive at once, each with a
// client pod on node 1 and a server pod on node 2 running iperf3, sockperf and connrate servers.
//   plain: no podnetd. The node gets what a kernel-only CNI gives it: gateway addresses on the
//          bridge, forwarding and proxy ARP/NDP sysctls (node namespace only), and cross-node
//          routes (or VXLAN) from the one-shot CLI. Pod to pod is pure kernel routing; no VIP.
//   tun:   podnetd on every node with the kernel flow cache off: every packet crosses both
//          nodes' engines through their TUNs.
//   fast:  podnetd with the kernel flow cache on: the first packet is decided by the engines,
//          the rest forwarded by the tc program on each node.
// The VIP (tun, fast) is a ClusterIP whose one endpoint is the server pod on node 2.
import { BRIDGE, ClusterSandbox, type ClusterNodeNs } from '../../src/sandbox/cluster';
import { serviceObjects } from '../../src/sandbox/manifests';
import type { Pod } from '../../src/sandbox/sandbox';
import { connrateBinary } from '../tools/connrate';

export type Mode = 'routed' | 'vxlan';
export type Config = 'plain' | 'tun' | 'fast';
export type Path = 'direct' | 'vip';
export const CONFIGS: readonly Config[] = ['plain', 'tun', 'fast'];

export const VIP = '10.96.0.30';
export const IPERF = 5201;

/**
 * Server ports per path. Direct goes to the pod's `direct` port; the VIP's port is the same
 * number, DNATed to the pod's `vip` port: each path has a server socket (and TIME_WAIT entries)
 * of its own. A TIME_WAIT entry with another TCP timestamp offset turns the next connection into
 * challenge-ACK/RST cycles and the connection rate collapses.
 */
export const PORTS = {
  conn: { direct: 7000, vip: 7001 },
  rr: { direct: 11111, vip: 11112 },
} as const;

export interface Bench {
  config: Config;
  c: ClusterSandbox;
  client: Pod;
  server: Pod;
  /** Paths this configuration has (plain has no VIP). */
  paths: Path[];
}

/** Where a path's client connects: host and the port of each tool (iperf3 shares one server). */
export function target(b: Bench, p: Path): { host: string; iperf: number; conn: number; rr: number } {
  return { host: p === 'direct' ? b.server.ip4 : VIP, iperf: IPERF, conn: PORTS.conn.direct, rr: PORTS.rr.direct };
}

/** Gateways, sysctls and cross-node routes as a kernel-only setup has them; no podnetd. */
async function kernelOnly(c: ClusterSandbox): Promise<void> {
  for (const n of c.nodes) {
    const ip = (...a: string[]) => c.sb.exec(n.ns, ['ip', ...a]);
    await ip('addr', 'add', `${n.gateway4}/${n.podCIDR4.split('/')[1]}`, 'dev', BRIDGE);
    await ip('addr', 'add', `${n.gateway6}/${n.podCIDR6.split('/')[1]}`, 'dev', BRIDGE, 'nodad');
    // Per-namespace sysctls, inside the node namespace: the root namespace is never touched.
    // Proxy ARP/NDP on the bridge as podnetd sets them (isolated ports: the node answers for
    // every address); cross-node traffic itself needs only forwarding.
    for (const kv of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1',
      `net.ipv4.conf.${BRIDGE}.proxy_arp=1`, `net.ipv4.neigh.${BRIDGE}.proxy_delay=0`,
      `net.ipv6.conf.${BRIDGE}.proxy_ndp=1`, `net.ipv6.neigh.${BRIDGE}.proxy_delay=0`]) {
      await c.sb.exec(n.ns, ['sysctl', '-w', kv]);
    }
  }
  await c.syncRoutesOnce();
}

async function startServers(c: ClusterSandbox, server: Pod, vip: boolean): Promise<void> {
  const sp = (ns: string, argv: string[], readyLine: RegExp) => c.sb.spawn(ns, argv, { readyLine });
  await sp(server.ns, ['iperf3', '-s', '-p', String(IPERF), '--forceflush'], /Server listening/);
  for (const p of vip ? ['direct', 'vip'] as const : ['direct'] as const) {
    await sp(server.ns, [connrateBinary(), 'server', String(PORTS.conn[p]), '4'], /^listening$/);
    await sp(server.ns, ['sockperf', 'server', '--tcp', '-i', '0.0.0.0', '-p', String(PORTS.rr[p])], /using .* to block|listen on/);
  }
}

/** The Service (tun, fast): VIP → server pod on node 2. */
function writeService(c: ClusterSandbox, server: Pod, n2: ClusterNodeNs): void {
  const objs = serviceObjects({
    name: 'bench', clusterIPs: [VIP], endpoints: [{ pod: server }],
    ports: [
      { name: 'iperf', port: IPERF, targetPort: IPERF },
      { name: 'conn', port: PORTS.conn.direct, targetPort: PORTS.conn.vip },
      { name: 'rr', port: PORTS.rr.direct, targetPort: PORTS.rr.vip },
    ],
  });
  for (const o of objs) (o as { endpoints?: Record<string, unknown>[] }).endpoints?.forEach((e) => { e.nodeName = n2.name; });
  c.writeManifest('bench.yaml', objs);
}

/** podnetd on both nodes, the Service programmed, the fast path in the state `config` wants. */
async function startPodnet(c: ClusterSandbox, config: 'tun' | 'fast'): Promise<void> {
  await c.startPodnetd();
  await c.waitForRouteSync().catch(() => undefined); // logged at info only; the ping after is the proof
  for (const n of c.nodes) {
    await n.podnetd!.waitForServices((s) => s.services.filter((x) => x.backends.length === 1).length >= 3, 20_000);
    const fp = (await n.podnetd!.status()).fastPath;
    const want = config === 'fast' ? 'on' : 'off';
    if ((fp?.mode ?? 'off') !== want) throw new Error(`${config}: ${n.name}'s fast path is ${fp?.mode ?? 'unreported'} (${fp?.reason ?? ''}), want ${want}`);
  }
}

/** One configuration's cluster in `mode`, ready to measure. Destroyed again if setup fails. */
export async function buildBench(mode: Mode, config: Config): Promise<Bench> {
  const c = await ClusterSandbox.create({ mode, nodes: 2, fastPath: config === 'fast' });
  try {
    const [n1, n2] = c.nodes as [ClusterNodeNs, ClusterNodeNs];
    const client = await c.addPod(n1, 'cli');
    const server = await c.addPod(n2, 'srv');
    const vip = config !== 'plain';
    await startServers(c, server, vip);
    if (vip) {
      writeService(c, server, n2);
      await startPodnet(c, config);
    } else {
      await kernelOnly(c);
    }
    await c.sb.exec(client.ns, ['ping', '-c', '2', '-W', '2', server.ip4]);
    return { config, c, client, server, paths: vip ? ['direct', 'vip'] : ['direct'] };
  } catch (e) {
    await c.destroy();
    throw e;
  }
}

/** Kernel flow cache hits and installs summed over the nodes (fast only; undefined otherwise). */
export async function cacheCounters(b: Bench): Promise<{ hits: number; installs: number } | undefined> {
  if (b.config !== 'fast') return undefined;
  let hits = 0, installs = 0;
  for (const n of b.c.nodes) {
    const fp = (await n.podnetd!.status()).fastPath;
    hits += fp?.hits ?? 0;
    installs += fp?.installs ?? 0;
  }
  return { hits, installs };
}
