// A multi-node sandbox: N node namespaces, each with its own bridge, pods and podnetd,
// joined by an "underlay" namespace holding one bridge (a top-of-rack switch). One manifest
// directory holds the v1 Nodes (pod CIDRs + InternalIPs), Services, EndpointSlices and policies;
// every podnetd watches it with `cluster: {mode, uplink: eth1}` and no podCIDRs of its own, so it
// takes its pod CIDRs from its Node object and programs cross-node routing from all of them
// (src/cluster/controller.ts). `syncRoutesOnce` still runs the one-shot CLI (src/cluster/main.js).
// Everything lives in the namespaces of one Sandbox (same id, marker, sweep and cleanup); node 1
// is the Sandbox's own node namespace.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { nthAddress, parseNetwork } from '../net/cidr';
import { bridgeMac, macText } from '../net/mac';
import type { ClusterMode } from '../cluster/model';
import { podAlias } from '../node/pod-alias';
import { removeManifest, writeManifest } from './manifests';
import { distFile } from './paths';
import { Podnetd, type PodnetdOptions } from './podnetd';
import { Sandbox, type Pod } from './sandbox';

/** One cross-node routing sync as podnetd logs it ("cross-node routes synced"). */
export interface RouteSync { added: string[]; removed: string[]; podMtu: number }

export interface ClusterOptions {
  nodes?: number;
  mode: ClusterMode;
  podnetd?: PodnetdOptions;
  /** The nodes' podnetd runs the kernel flow cache (Sandbox.create's fastPath; default: its default). */
  fastPath?: boolean;
}

export interface ClusterNodeNs {
  index: number;
  /** Node object name (= its namespace name). */
  name: string;
  ns: string;
  podCIDR4: string;
  podCIDR6: string;
  gateway4: string;
  gateway6: string;
  /** Underlay addresses (the Node's InternalIPs), on `eth1`. */
  ip4: string;
  ip6: string;
  pods: Pod[];
  podnetd?: Podnetd;
}

export const UPLINK = 'eth1';
export const BRIDGE = 'podnet0';
const UNDERLAY_MTU = 1500;

export class ClusterSandbox {
  readonly nodes: ClusterNodeNs[] = [];
  readonly manifestDir: string;
  underlayNs = '';

  private constructor(readonly sb: Sandbox, readonly mode: ClusterMode) {
    this.manifestDir = path.join(sb.dir, 'manifests');
    mkdirSync(this.manifestDir, { recursive: true });
  }

  /** Builds underlay + nodes (no pods, no podnetd yet). Destroys everything on failure. */
  static async create(opts: ClusterOptions): Promise<ClusterSandbox> {
    const sb = await Sandbox.create({ fastPath: opts.fastPath });
    const c = new ClusterSandbox(sb, opts.mode);
    try {
      c.underlayNs = await sb.addBareNamespace('ul');
      await sb.exec(c.underlayNs, ['ip', 'link', 'add', 'ul0', 'type', 'bridge']);
      await sb.exec(c.underlayNs, ['ip', 'link', 'set', 'ul0', 'up']);
      for (let i = 1; i <= (opts.nodes ?? 3); i++) await c.addNode(i);
      c.writeNodes();
    } catch (e) {
      await sb.destroy();
      throw e;
    }
    return c;
  }

  get podMtu(): number { return this.mode === 'vxlan' ? UNDERLAY_MTU - 50 : UNDERLAY_MTU; }

  private async addNode(i: number): Promise<ClusterNodeNs> {
    const sb = this.sb;
    const ns = i === 1 ? sb.nodeNs : await sb.addBareNamespace(`n${i}`);
    const p4 = `10.244.${i}.0/24`, p6 = `fd00:10:244:${i}::/64`;
    const node: ClusterNodeNs = {
      index: i, name: ns, ns, podCIDR4: p4, podCIDR6: p6,
      gateway4: nthAddress(parseNetwork(p4), 1), gateway6: nthAddress(parseNetwork(p6), 1),
      ip4: `192.168.77.${10 + i}`, ip6: `fd00:77::${10 + i}`, pods: [],
    };
    if (i !== 1) {
      await sb.exec(ns, ['ip', 'link', 'add', BRIDGE, 'address', macText(bridgeMac(BRIDGE))!, 'type', 'bridge']);
      await sb.exec(ns, ['ip', 'link', 'set', BRIDGE, 'up']);
    }
    const ulPort = `${sb.id}u${i}`;
    await sb.exec(this.underlayNs, ['ip', 'link', 'add', ulPort, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', ns]);
    await sb.exec(this.underlayNs, ['ip', 'link', 'set', ulPort, 'master', 'ul0', 'up']);
    await sb.exec(ns, ['ip', 'addr', 'add', `${node.ip4}/24`, 'dev', UPLINK]);
    await sb.exec(ns, ['ip', 'addr', 'add', `${node.ip6}/64`, 'dev', UPLINK, 'nodad']);
    await sb.exec(ns, ['ip', 'link', 'set', UPLINK, 'mtu', String(UNDERLAY_MTU), 'up']);
    this.nodes.push(node);
    return node;
  }

  /** v1 Node objects as the API serves them. */
  nodeObjects(nodes = this.nodes): Record<string, unknown>[] {
    return nodes.map((n) => ({
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name } },
      spec: { podCIDR: n.podCIDR4, podCIDRs: [n.podCIDR4, n.podCIDR6] },
      status: { addresses: [{ type: 'InternalIP', address: n.ip4 }, { type: 'InternalIP', address: n.ip6 }, { type: 'Hostname', address: n.name }] },
    }));
  }

  /** (Re)writes nodes.yaml with `nodes` (default: all). */
  writeNodes(nodes = this.nodes): void {
    writeManifest(this.manifestDir, 'nodes.yaml', this.nodeObjects(nodes));
  }

  writeManifest(name: string, objects: Record<string, unknown>[]): void { writeManifest(this.manifestDir, name, objects); }
  removeManifest(name: string): void { removeManifest(this.manifestDir, name); }

  /** A pod on node `node`: namespace "<id>-<n><name>", eth0 at the cluster's pod MTU. */
  async addPod(node: ClusterNodeNs, name: string): Promise<Pod> {
    if (!/^[a-z0-9]{1,6}$/.test(name)) throw new Error(`pod name must be 1-6 of [a-z0-9]: ${name}`);
    const sb = this.sb;
    const index = node.pods.length + 2;
    const ns = await sb.addBareNamespace(`${node.index}${name}`);
    const hostVeth = `${sb.id}n${node.index}p${index}`;
    const pod: Pod = {
      name, ns, hostVeth,
      ip4: nthAddress(parseNetwork(node.podCIDR4), index), ip6: nthAddress(parseNetwork(node.podCIDR6), index),
    };
    const ipn = (...a: string[]) => sb.exec(node.ns, ['ip', ...a]);
    const ipp = (...a: string[]) => sb.exec(ns, ['ip', ...a]);
    await ipn('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ipn('link', 'set', hostVeth, 'master', BRIDGE);
    await ipn('link', 'set', hostVeth, 'type', 'bridge_slave', 'isolated', 'on');
    await ipn('link', 'set', hostVeth, 'up');
    // The CNI's `mtu`: pods must not send more than the VXLAN device carries.
    await ipp('link', 'set', 'eth0', 'mtu', String(this.podMtu));
    await ipp('addr', 'add', `${pod.ip4}/24`, 'dev', 'eth0');
    await ipp('addr', 'add', `${pod.ip6}/64`, 'dev', 'eth0', 'nodad');
    await ipp('link', 'set', 'eth0', 'up');
    await ipp('route', 'add', 'default', 'via', node.gateway4, 'dev', 'eth0');
    await ipp('-6', 'route', 'add', 'default', 'via', node.gateway6, 'dev', 'eth0');
    await ipn('-6', 'neigh', 'add', 'proxy', pod.ip6, 'dev', BRIDGE);
    // What the CNI plugin records on the host veth: podnetd's kernel flow cache reads it back.
    const { stdout } = await ipp('-j', 'link', 'show', 'eth0');
    const mac = (JSON.parse(stdout) as { address: string }[])[0].address;
    await ipn('link', 'set', hostVeth, 'alias', podAlias([pod.ip4, pod.ip6], mac));
    node.pods.push(pod);
    return pod;
  }

  /** podnetd in every node namespace, all on the one manifest directory. */
  async startPodnetd(opts: PodnetdOptions = {}): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => {
      n.podnetd = await Podnetd.startManifests(this.sb, {
        ...opts, ns: n.ns,
        config: {
          nodeName: n.name, podCIDRs: [], bridge: BRIDGE, manifests: this.manifestDir,
          cluster: { mode: this.mode, uplink: UPLINK }, ...(opts.config ?? {}),
        },
      });
    }));
  }

  /** Log lines so far per node's podnetd: pass to waitForRouteSync to see only later syncs. */
  mark(nodes = this.nodes): number[] { return nodes.map((n) => n.podnetd?.proc.lines.length ?? 0); }

  /**
   * The first "cross-node routes synced" line of each node's podnetd after `from` (default: the
   * start) whose report satisfies `pred`.
   */
  async waitForRouteSync(nodes = this.nodes, from: number[] = [], pred: (r: RouteSync) => boolean = () => true, timeoutMs = 15_000): Promise<RouteSync[]> {
    return Promise.all(nodes.map(async (n, i) => {
      const line = await n.podnetd!.proc.waitForLine((l) => l.includes('"msg":"cross-node routes synced"') && pred(JSON.parse(l) as RouteSync),
        { from: from[i] ?? 0, timeoutMs });
      return JSON.parse(line) as RouteSync;
    }));
  }

  /**
   * A host outside the cluster on the underlay (a load balancer, a client of NodePorts): a
   * namespace "<id>-<name>" whose eth0 is on the underlay bridge at 192.168.77.<n> and
   * fd00:77::<n> (n from 100 up, the nodes use 11 and up).
   */
  async addUnderlayHost(name: string, n = 100): Promise<{ ns: string; ip4: string; ip6: string }> {
    const sb = this.sb;
    const ns = await sb.addBareNamespace(name);
    const port = `${sb.id}h${n}`;
    const host = { ns, ip4: `192.168.77.${n}`, ip6: `fd00:77::${n}` };
    await sb.exec(this.underlayNs, ['ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await sb.exec(this.underlayNs, ['ip', 'link', 'set', port, 'master', 'ul0', 'up']);
    await sb.exec(ns, ['ip', 'addr', 'add', `${host.ip4}/24`, 'dev', 'eth0']);
    await sb.exec(ns, ['ip', 'addr', 'add', `${host.ip6}/64`, 'dev', 'eth0', 'nodad']);
    await sb.exec(ns, ['ip', 'link', 'set', 'eth0', 'mtu', String(UNDERLAY_MTU), 'up']);
    await sb.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    return host;
  }

  /** SIGHUP to each node's podnetd: a forced re-sync, whose report is returned. */
  async resync(nodes = this.nodes): Promise<RouteSync[]> {
    const from = this.mark(nodes);
    for (const n of nodes) n.podnetd!.proc.signal('SIGHUP');
    return this.waitForRouteSync(nodes, from);
  }

  /** The one-shot CLI (src/cluster/main.js) in each node, as a tool would run it without podnetd. */
  async syncRoutesOnce(nodes = this.nodes): Promise<RouteSync[]> {
    return Promise.all(nodes.map(async (n) => {
      const { stdout } = await this.sb.exec(n.ns, [process.execPath, distFile('src/cluster/main.js'),
        '--self', n.name, '--manifests', this.manifestDir, '--mode', this.mode, '--uplink', UPLINK]);
      return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as RouteSync;
    }));
  }

  destroy(): Promise<void> { return this.sb.destroy(); }
}
