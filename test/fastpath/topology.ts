// A node namespace with two pod namespaces on veths (host ends in the node namespace, pods
// addressed /32 behind a static gateway neighbour, as podnet's CNI wires them), a bpffs in
// a temp dir of our own, and the built fpctl/gtest binaries run inside the node namespace.
// Names carry a fresh random prefix ("pnfl" + 4 hex); everything is removed by close().
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, OBJ } from './testrun';

export const FPCTL = path.join(root, 'build/fastpath/fpctl');
export const GTEST = path.join(root, 'build/fastpath/fastpath_test');
export const GTEST_ASAN = path.join(root, 'build/fastpath/fastpath_test_asan');

export const GW = '10.77.1.1';
export const VIP = '10.96.0.10';

export const sh = (cmd: string[], input?: string) =>
  execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

export interface Pod { ns: string; host: string; ip: string; mac: string; hostIfindex: number }

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

  constructor() {
    this.pins = fs.mkdtempSync(path.join(os.tmpdir(), `${this.prefix}-bpffs-`));
  }

  /** The node namespace and a bpffs at this.pins. */
  up(): void {
    sh(['mount', '-t', 'bpf', 'bpf', this.pins]);
    this.mounted = true;
    this.addNs(this.node);
    this.inNode('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');
  }

  addPod(role: string, ip: string): Pod {
    const ns = `${this.prefix}-${role}`;
    const host = `${role}-host`;
    this.addNs(ns);
    this.inNode('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    this.inNode('ip', 'link', 'set', host, 'up');
    this.inNode('ip', 'addr', 'add', `${GW}/32`, 'dev', host);
    this.inNode('ip', 'route', 'add', `${ip}/32`, 'dev', host);
    const hostMac = this.mac(this.node, host);
    const inPod = (...c: string[]) => sh(['ip', 'netns', 'exec', ns, ...c]);
    inPod('ip', 'link', 'set', 'eth0', 'up');
    inPod('ip', 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
    inPod('ip', 'route', 'add', GW, 'dev', 'eth0');
    inPod('ip', 'route', 'add', 'default', 'via', GW, 'dev', 'eth0');
    inPod('ip', 'neigh', 'replace', GW, 'lladdr', hostMac, 'dev', 'eth0', 'nud', 'permanent');
    const hostIfindex = JSON.parse(this.inNode('ip', '-j', 'link', 'show', host))[0].ifindex as number;
    const pod = { ns, host, ip, mac: this.mac(ns, 'eth0'), hostIfindex };
    this.pods.push(pod);
    return pod;
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
