// The benchmark's topology, built fresh for every configuration and round: a sandbox node
// namespace with its bridge, one client pod and two server pods (src/sandbox). Fresh namespaces
// per configuration are how TIME_WAIT (and conntrack) state from one configuration can never
// reach the next (a TIME_WAIT entry left by direct connections carries another TCP timestamp
// offset than the VIP's and collapses the next connection-rate test), and how a kernel DNAT
// ruleset can never be active while podnet is measured.
//
// Servers: srv1 runs iperf3, sockperf and the connection-rate server; srv2 runs a second
// connection-rate server so that the connection-rate service really load-balances.
//
// Pods are made as podnet's CNI plugin makes them (isolated bridge ports, src/sandbox) unless a
// configuration brings its own pod maker (configs/plain.ts: the reference bridge plugin).
import { Sandbox, type ManagedProcess, type Pod, type SandboxOptions } from '../src/sandbox';
import { connrateBinary } from './tools/connrate';

export const VIP = '10.96.0.10';
export const PORTS = { iperf: 5201, sockperf: 11111, connrate: 7000 } as const;

export interface Topology {
  sb: Sandbox;
  client: Pod;
  srv1: Pod;
  srv2: Pod;
  /** Long-lived server processes (killed with the sandbox). */
  servers: ManagedProcess[];
}

export interface TopologyOptions {
  sandbox?: SandboxOptions;
  /** Makes one pod in the sandbox (default: Sandbox.addPod). */
  addPod?: (sb: Sandbox, name: string) => Promise<Pod>;
}

export async function buildTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const sb = await Sandbox.create(opts.sandbox);
  const addPod = opts.addPod ?? ((s: Sandbox, name: string) => s.addPod(name));
  try {
    const client = await addPod(sb, 'cli');
    const srv1 = await addPod(sb, 'srv1');
    const srv2 = await addPod(sb, 'srv2');
    // The client opens tens of thousands of connections per run: give it every ephemeral port
    // (a per-namespace sysctl, in our own pod namespace).
    await sb.exec(client.ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65535']);
    await bridgeNetfilterOff(sb);
    const servers = await startServers(sb, srv1, srv2);
    return { sb, client, srv1, srv2, servers };
  } catch (e) {
    await sb.destroy();
    throw e;
  }
}

async function startServers(sb: Sandbox, srv1: Pod, srv2: Pod): Promise<ManagedProcess[]> {
  const cr = connrateBinary();
  return [
    await sb.spawn(srv1.ns, ['iperf3', '-s', '-p', String(PORTS.iperf), '--forceflush'], { readyLine: /Server listening/ }),
    await sb.spawn(srv1.ns, ['sockperf', 'server', '--tcp', '-i', '0.0.0.0', '-p', String(PORTS.sockperf)], { readyLine: /using .* to block|listen on/ }),
    await sb.spawn(srv1.ns, [cr, 'server', String(PORTS.connrate), '8'], { readyLine: /^listening$/ }),
    await sb.spawn(srv2.ns, [cr, 'server', String(PORTS.connrate), '8'], { readyLine: /^listening$/ }),
  ];
}

/**
 * Kernel routing in the node namespace without podnet: gateway address on the bridge, forwarding,
 * proxy ARP on the isolated ports. Pod-to-pod packets are then routed by the node's kernel, the
 * same hop podnet's wiring sends through the TUN instead. Only for the non-podnet configurations
 * (podnetd does its own wiring).
 */
export async function routeInKernel(sb: Sandbox): Promise<void> {
  await sb.ipNode('addr', 'add', `${sb.gateway4}/${sb.podCIDR4.split('/')[1]}`, 'dev', sb.bridge);
  await sb.exec(sb.nodeNs, ['sysctl', '-q', '-w',
    'net.ipv4.ip_forward=1',
    `net.ipv4.conf.${sb.bridge}.proxy_arp=1`,
    `net.ipv4.conf.${sb.bridge}.proxy_arp_pvlan=1`,
    `net.ipv4.neigh.${sb.bridge}.proxy_delay=0`,
    'net.ipv4.conf.all.send_redirects=0',
    `net.ipv4.conf.${sb.bridge}.send_redirects=0`,
  ]);
}

/**
 * br_netfilter (built into this kernel, on by default in every new namespace) runs the IP
 * netfilter hooks at the bridge layer: a kernel DNAT to a pod on the same bridge is then
 * *bridged* to its isolated port and dropped, and every configuration pays br_nf_pre_routing on
 * each frame. Pod traffic here is routed (proxy ARP), so neither kube-proxy's rules nor podnet
 * need it: off for every configuration alike. Per-namespace sysctl, in our node namespace.
 */
async function bridgeNetfilterOff(sb: Sandbox): Promise<void> {
  await sb.exec(sb.nodeNs, ['sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0'])
    .catch(() => undefined); // no br_netfilter at all: nothing to turn off
}

/** Sockets in TIME_WAIT inside a namespace (for the report's sanity line). */
export async function timeWaitCount(sb: Sandbox, ns: string): Promise<number> {
  const { stdout } = await sb.exec(ns, ['ss', '-tan', 'state', 'time-wait']);
  return Math.max(0, stdout.trim().split('\n').length - 1);
}
