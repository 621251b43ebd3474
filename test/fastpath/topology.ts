// A node namespace with pod namespaces on veths (host ends in the node namespace), a bpffs in
// a temp dir of our own, and the built fpctl/gtest binaries run inside the node namespace.
// Two wirings:
//  - routed: pods addressed /32 behind a static gateway neighbour, the gateway address on
//    every host veth, so a pod's frames carry its host veth's MAC as destination;
//  - bridge: podnet's own, host veths are isolated ports of a bridge that carries the
//    gateway address, with proxy ARP: every neighbour of a pod (the gateway, other pods)
//    resolves to the bridge's MAC, so at the host veth's ingress a pod's frames are addressed
//    to another host (PACKET_OTHERHOST).
// Names carry a fresh random prefix ("pnfl" + 4 hex); everything is removed by close().
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { root, OBJ } from './testrun';

export const FPCTL = path.join(root, 'build/fastpath/fpctl');
export const GTEST = path.join(root, 'build/fastpath/fastpath_test');
export const GTEST_ASAN = path.join(root, 'build/fastpath/fastpath_test_asan');

export const GW = '10.77.1.1';
export const VIP = '10.96.0.10';
export const BRIDGE = 'podnet0';
export const BRIDGE_MAC = '02:00:00:77:01:01';

export const sh = (cmd: string[], input?: string) =>
  execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

export interface Pod { ns: string; host: string; ip: string; mac: string; hostIfindex: number }

/** tap options for a test of real traffic in namespaces: root, the native toolchain, nft, and `more`. */
export function needsNamespaces(more: Record<string, () => boolean>): ReturnType<typeof requires> {
  return requires({
    root: isRoot,
    clang: () => haveCommand('clang'),
    'g++': () => haveCommand('g++'),
    'libbpf headers': () => fs.existsSync('/usr/include/bpf/libbpf.h'),
    googletest: () => fs.existsSync('/usr/include/gtest/gtest.h'),
    nft: () => haveCommand('nft'),
    ...more,
  });
}

export function buildAll(): { ok: boolean; output: string } {
  const r = spawnSync('sh', [path.join(root, 'native/fastpath/test/run.sh'), '--build-only'], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}\n${r.stderr}` };
}

export class Topology {
  readonly prefix = `pnfl${randomBytes(2).toString('hex')}`;
  readonly node = `${this.prefix}-node`;
  readonly pins: string;
  readonly pods: Pod[] = [];
  private namespaces: string[] = [];
  private mounted = false;
  private children: ChildProcess[] = [];

  constructor(readonly wiring: 'routed' | 'bridge' = 'routed') {
    this.pins = fs.mkdtempSync(path.join(os.tmpdir(), `${this.prefix}-bpffs-`));
  }

  /** The node namespace and a bpffs at this.pins. */
  up(): void {
    sh(['mount', '-t', 'bpf', 'bpf', this.pins]);
    this.mounted = true;
    this.addNs(this.node);
    this.inNode('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');
    if (this.wiring === 'bridge') {
      this.inNode('ip', 'link', 'add', BRIDGE, 'address', BRIDGE_MAC, 'type', 'bridge');
      this.inNode('ip', 'addr', 'add', `${GW}/24`, 'dev', BRIDGE);
      this.inNode('ip', 'link', 'set', BRIDGE, 'up');
      this.inNode('sysctl', '-qw', `net.ipv4.conf.${BRIDGE}.proxy_arp=1`, `net.ipv4.conf.${BRIDGE}.proxy_arp_pvlan=1`,
        `net.ipv4.neigh.${BRIDGE}.proxy_delay=0`, `net.ipv4.conf.${BRIDGE}.send_redirects=0`, 'net.ipv4.conf.all.send_redirects=0',
        // (a per-namespace sysctl) the slow path's nftables DNAT must run at the IP layer: run
        // from the bridge's own prerouting it sends the packet back into the bridge towards
        // another isolated port, which the bridge refuses
        'net.bridge.bridge-nf-call-iptables=0');
    }
  }

  /** The device whose MAC a pod's frames carry as destination when they leave through its gateway. */
  gatewayDev(pod: Pod): string {
    return this.wiring === 'bridge' ? BRIDGE : pod.host;
  }

  addPod(role: string, ip: string): Pod {
    const ns = `${this.prefix}-${role}`;
    const host = `${role}-host`;
    this.addNs(ns);
    this.inNode('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    const inPod = (...c: string[]) => sh(['ip', 'netns', 'exec', ns, ...c]);
    inPod('ip', 'link', 'set', 'eth0', 'up');
    if (this.wiring === 'bridge') {
      this.inNode('ip', 'link', 'set', host, 'master', BRIDGE);
      this.inNode('ip', 'link', 'set', host, 'type', 'bridge_slave', 'isolated', 'on');
      this.inNode('ip', 'link', 'set', host, 'up');
      inPod('ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      inPod('ip', 'route', 'add', 'default', 'via', GW, 'dev', 'eth0');
    } else {
      this.inNode('ip', 'link', 'set', host, 'up');
      this.inNode('ip', 'addr', 'add', `${GW}/32`, 'dev', host);
      this.inNode('ip', 'route', 'add', `${ip}/32`, 'dev', host);
      inPod('ip', 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
      inPod('ip', 'route', 'add', GW, 'dev', 'eth0');
      inPod('ip', 'route', 'add', 'default', 'via', GW, 'dev', 'eth0');
      inPod('ip', 'neigh', 'replace', GW, 'lladdr', this.mac(this.node, host), 'dev', 'eth0', 'nud', 'permanent');
    }
    const hostIfindex = JSON.parse(this.inNode('ip', '-j', 'link', 'show', host))[0].ifindex as number;
    const pod = { ns, host, ip, mac: this.mac(ns, 'eth0'), hostIfindex };
    this.pods.push(pod);
    return pod;
  }

  /** The usual pair: a client pod (10.77.1.2) and a backend pod (10.77.1.3). */
  clientAndBackend(): { client: Pod; backend: Pod } {
    return { client: this.addPod('a', '10.77.1.2'), backend: this.addPod('b', '10.77.1.3') };
  }

  /** The program's counters (fpctl stats), by name. */
  stats(): Record<string, number> {
    return this.fpctlJson<Record<string, number>>('stats')[0];
  }

  inNode(...cmd: string[]): string {
    return sh(['ip', 'netns', 'exec', this.node, ...cmd]);
  }

  in(ns: string, ...cmd: string[]): string {
    return sh(['ip', 'netns', 'exec', ns, ...cmd]);
  }

  /** A background process in a namespace, killed by close() if still running. */
  spawnIn(ns: string, cmd: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(c);
    return c;
  }

  fpctl(...args: string[]): string {
    const flags = args[0] === '--clsact' ? [args.shift() as string] : [];
    return this.inNode(FPCTL, '--object', OBJ, '--pins', this.pins, ...flags, ...args);
  }

  fpctlJson<T>(...args: string[]): T[] {
    return this.fpctl(...args).split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
  }

  /** Deletes a pod's namespace: its veth pair goes with it. */
  deletePod(pod: Pod): void {
    sh(['ip', 'netns', 'del', pod.ns]);
    this.namespaces = this.namespaces.filter((n) => n !== pod.ns);
  }

  close(): void {
    for (const c of this.children) if (c.exitCode === null && c.pid) try { process.kill(c.pid); } catch { /* gone */ }
    for (const ns of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    this.namespaces = [];
    if (this.mounted) spawnSync('umount', [this.pins]);
    this.mounted = false;
    fs.rmSync(this.pins, { recursive: true, force: true });
  }

  private addNs(ns: string): void {
    sh(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private mac(ns: string, dev: string): string {
    return JSON.parse(sh(['ip', '-n', ns, '-j', 'link', 'show', dev]))[0].address as string;
  }
}

/** An absolute counter of `nstat` in a namespace (UdpInCsumErrors, TcpInCsumErrors, ...). */
export function nstat(topo: Topology, ns: string, name: string): number {
  const out = topo.in(ns, 'nstat', '-asz', name);
  const m = new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(out);
  return m ? Number(m[1]) : 0;
}
