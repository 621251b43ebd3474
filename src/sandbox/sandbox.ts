// The namespace sandbox: one node namespace (bridge, TUN, podnetd) and pod namespaces joined to
// the bridge by veths whose host side is an isolated bridge port, as the CNI plugin will do it.
// Used by e2e tests, the demo and benchmarks. Never touches the root namespace's network state:
// every `ip` command runs with `-n <our namespace>` or creates/deletes our own namespaces.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type RunOptions, type RunResult } from '../netns/exec';
import { nthAddress, parseNetwork } from '../net/cidr';
import { bridgeMac, macText } from '../net/mac';
import { podAlias } from '../node/pod-alias';
import { delNetnsSync, killSync, register, unregister, type Cleanable } from './cleanup';
import { SandboxError } from './errors';
import { claimSandboxId, removeMarker, sweepStale } from './naming';
import { ManagedProcess, startProcess, type SpawnOptions } from './process';
import { distFile } from './paths';
import { podFromResult, runCni } from './cni';

export interface SandboxOptions {
  podCIDR4?: string;
  podCIDR6?: string;
  serviceCIDRs?: string[];
  bridge?: string;
  tun?: string;
  /**
   * podnetd of this sandbox runs the kernel flow cache (engine.fastPath), pinned on a bpffs
   * the sandbox mounts in its own directory. Default: on, unless PODNET_E2E_FASTPATH=0.
   */
  fastPath?: boolean;
}

/** The sandbox's bpffs mount point (inside its work directory). */
export function bpffsDir(dir: string): string {
  return path.join(dir, 'bpffs');
}

/** Unmounts a sandbox's bpffs if mounted (its pins go with it); never fails. */
export function unmountBpffs(dir: string): void {
  try { execFileSync('umount', [bpffsDir(dir)], { stdio: 'ignore' }); } catch { /* not mounted */ }
}

export interface Pod {
  name: string;
  ns: string;
  ip4: string;
  ip6: string;
  /** Host side of the veth, in the node namespace (a bridge port). */
  hostVeth: string;
}

const DEFAULTS = {
  podCIDR4: '10.244.1.0/24',
  podCIDR6: 'fd00:10:244:1::/64',
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'],
  bridge: 'podnet0',
  tun: 'podnet-tun',
};

/** Fails (CI) or returns a skip reason when this process cannot build namespaces. */
export async function sandboxUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try { await run(null, ['ip', 'netns', 'list']); } catch (e) { return `ip netns unavailable: ${(e as Error).message}`; }
  return null;
}

export class Sandbox implements Cleanable {
  readonly id: string;
  readonly nodeNs: string;
  readonly bridge: string;
  readonly tun: string;
  readonly podCIDR4: string;
  readonly podCIDR6: string;
  readonly serviceCIDRs: string[];
  readonly gateway4: string;
  readonly gateway6: string;
  readonly dir: string;
  readonly pods = new Map<string, Pod>();
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<ManagedProcess>();
  private readonly cniPods: { containerId: string; ns: string }[] = [];
  private destroyed = false;

  private constructor(opts: SandboxOptions) {
    // Claimed before anything of ours exists, so a concurrent sweep leaves it alone.
    this.id = claimSandboxId();
    this.nodeNs = `${this.id}-node`;
    this.bridge = opts.bridge ?? DEFAULTS.bridge;
    this.tun = opts.tun ?? DEFAULTS.tun;
    this.podCIDR4 = opts.podCIDR4 ?? DEFAULTS.podCIDR4;
    this.podCIDR6 = opts.podCIDR6 ?? DEFAULTS.podCIDR6;
    this.serviceCIDRs = opts.serviceCIDRs ?? DEFAULTS.serviceCIDRs;
    this.gateway4 = nthAddress(parseNetwork(this.podCIDR4), 1);
    this.gateway6 = nthAddress(parseNetwork(this.podCIDR6), 1);
    this.dir = mkdtempSync(path.join(os.tmpdir(), `podnet-${this.id}-`));
    this.fastPath = opts.fastPath ?? process.env.PODNET_E2E_FASTPATH !== '0';
  }

  /** podnetd here runs the kernel flow cache, pinned on bpffsDir(this.dir). */
  readonly fastPath: boolean;
  private bpffsMounted = false;

  /** Mounts the sandbox's own bpffs (once); podnetd pins the flow cache there. */
  mountBpffs(): string {
    const d = bpffsDir(this.dir);
    if (!this.bpffsMounted) {
      mkdirSync(d, { recursive: true });
      execFileSync('mount', ['-t', 'bpf', 'bpf', d], { stdio: 'ignore' });
      this.bpffsMounted = true;
    }
    return d;
  }

  /** Sweeps stale sandboxes, then builds the node namespace with its bridge. */
  static async create(opts: SandboxOptions = {}): Promise<Sandbox> {
    const why = await sandboxUnavailable();
    if (why) throw new SandboxError(why.startsWith('needs root') ? 'SANDBOX_NOT_ROOT' : 'SANDBOX_NO_NETNS', why);
    sweepStale();
    const sb = new Sandbox(opts);
    register(sb);
    try {
      await sb.addNamespace(sb.nodeNs);
      await sb.ensureBridge();
    } catch (e) {
      await sb.destroy();
      throw e;
    }
    return sb;
  }

  /** `ip -n <nodeNs> ...` */
  ipNode(...args: string[]): Promise<RunResult> {
    return run(null, ['ip', '-n', this.nodeNs, ...args]);
  }

  /** Runs argv inside a namespace to completion. */
  exec(ns: string, argv: string[], opts?: RunOptions): Promise<RunResult> {
    return run(ns, argv, opts);
  }

  /** Starts a long-lived process in a namespace; it is killed (by PID) on destroy. */
  async spawn(ns: string, argv: string[], opts?: SpawnOptions): Promise<ManagedProcess> {
    const p = await startProcess(ns, argv, opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** argv of the traffic agent (src/sandbox/agent.ts, compiled). */
  agent(mode: string, ...args: (string | number)[]): string[] {
    return [process.execPath, distFile('src/sandbox/agent.js'), mode, ...args.map(String)];
  }

  /** Runs an agent client in `ns` and parses its one JSON line. */
  async agentRun<T = Record<string, unknown>>(ns: string, mode: string, args: (string | number)[], timeoutMs = 60_000): Promise<T> {
    const { stdout } = await this.exec(ns, this.agent(mode, ...args), { timeoutMs });
    const line = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as T;
  }

  /** Starts an agent server in a pod and waits until it listens. */
  serve(pod: Pod, mode: string, ...args: (string | number)[]): Promise<ManagedProcess> {
    return this.spawn(pod.ns, this.agent(mode, ...args), { readyLine: /^listening$/ });
  }

  /**
   * An extra namespace of this sandbox with only `lo` up ("<id>-<role>"): e.g. a second node
   * that podnetd wires from scratch. Deleted with the sandbox.
   */
  async addBareNamespace(role: string): Promise<string> {
    if (!/^[a-z0-9]{1,8}$/.test(role)) throw new Error(`role must be 1-8 of [a-z0-9]: ${role}`);
    const ns = `${this.id}-${role}`;
    await this.addNamespace(ns);
    return ns;
  }

  private async addNamespace(ns: string): Promise<void> {
    await run(null, ['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    await run(null, ['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** The bridge as a CNI plugin would create it; podnetd adds gateway addresses and sysctls. */
  private async ensureBridge(): Promise<void> {
    const mac = macText(bridgeMac(this.bridge))!;
    await this.ipNode('link', 'add', this.bridge, 'address', mac, 'type', 'bridge');
    await this.ipNode('link', 'set', this.bridge, 'up');
  }

  /**
   * A pod: its own namespace, eth0 with v4 + v6 addresses, default routes via the gateways, the
   * host veth an isolated port of the bridge, and a proxy-NDP entry for its IPv6 address.
   */
  async addPod(name: string): Promise<Pod> {
    if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`pod name must be 1-8 of [a-z0-9]: ${name}`);
    const index = this.pods.size + 2; // .1 is the gateway
    const ns = `${this.id}-${name}`;
    const hostVeth = `${this.id}v${index}`;
    const pod: Pod = {
      name, ns, hostVeth,
      ip4: nthAddress(parseNetwork(this.podCIDR4), index),
      ip6: nthAddress(parseNetwork(this.podCIDR6), index),
    };
    const p4 = parseNetwork(this.podCIDR4).prefix, p6 = parseNetwork(this.podCIDR6).prefix;
    await this.addNamespace(ns);
    await this.ipNode('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.ipNode('link', 'set', hostVeth, 'master', this.bridge);
    await this.ipNode('link', 'set', hostVeth, 'type', 'bridge_slave', 'isolated', 'on');
    await this.ipNode('link', 'set', hostVeth, 'up');
    const ipPod = (...a: string[]) => run(null, ['ip', '-n', ns, ...a]);
    await ipPod('addr', 'add', `${pod.ip4}/${p4}`, 'dev', 'eth0');
    await ipPod('addr', 'add', `${pod.ip6}/${p6}`, 'dev', 'eth0', 'nodad');
    await ipPod('link', 'set', 'eth0', 'up');
    await ipPod('route', 'add', 'default', 'via', this.gateway4, 'dev', 'eth0');
    await ipPod('-6', 'route', 'add', 'default', 'via', this.gateway6, 'dev', 'eth0');
    await this.ipNode('-6', 'neigh', 'add', 'proxy', pod.ip6, 'dev', this.bridge);
    // What the CNI plugin records on the host veth: podnetd's kernel flow cache reads it back.
    const { stdout } = await ipPod('-j', 'link', 'show', 'eth0');
    const mac = (JSON.parse(stdout) as { address: string }[])[0].address;
    await this.ipNode('link', 'set', hostVeth, 'alias', podAlias([pod.ip4, pod.ip6], mac));
    this.pods.set(name, pod);
    return pod;
  }

  /**
   * A pod made by the real `podnet` CNI plugin (ADD, as a runtime calls it) instead of by hand:
   * the plugin creates the veth, the isolated bridge port, IPAM addresses and routes. Needs the
   * plugin built (cniAvailable()). DEL runs when the sandbox is destroyed.
   */
  async addPodCni(name: string): Promise<Pod> {
    if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`pod name must be 1-8 of [a-z0-9]: ${name}`);
    const ns = `${this.id}-${name}`;
    await this.addNamespace(ns);
    const containerId = `${this.id}-${name}`;
    const r = await runCni(this, 'ADD', containerId, ns);
    this.cniPods.push({ containerId, ns });
    const pod: Pod = { name, ns, ...podFromResult(r) };
    this.pods.set(name, pod);
    return pod;
  }

  /**
   * Turns off tx checksum offload on the host side of every pod veth (the bridge ports): pods
   * still send partial (NEEDS_CSUM) packets through the engine, and the kernel must complete
   * the checksum in software on the way out to the receiving pod, which then verifies it.
   * `both` also turns it off inside the pods (then the engine sees only complete checksums).
   */
  async txChecksumOff(which: 'host' | 'both' = 'host'): Promise<void> {
    for (const pod of this.pods.values()) {
      await this.exec(this.nodeNs, ['ethtool', '-K', pod.hostVeth, 'tx', 'off']);
      if (which === 'both') await this.exec(pod.ns, ['ethtool', '-K', 'eth0', 'tx', 'off']);
    }
  }

  /** Kills our processes (by PID), deletes our namespaces and marker. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.procs].map((p) => p.stop(2000).catch(() => undefined)));
    // DEL as a runtime would (releases IPAM, proxy-NDP entries); the namespaces go next anyway.
    for (const p of this.cniPods) await runCni(this, 'DEL', p.containerId, p.ns).catch(() => undefined);
    this.destroySync();
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) if (p.running) killSync(p.pid);
    // Pods first: deleting their namespaces removes the veths before the node's bridge goes.
    for (const ns of [...this.namespaces].reverse()) delNetnsSync(ns);
    removeMarker(this.id);
    if (this.bpffsMounted) unmountBpffs(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
    unregister(this);
  }
}
