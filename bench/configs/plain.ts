// The plain node: what a node without podnet looks like, the baseline of podnet's pod-to-pod
// figures. Pods are made by the reference CNI plugins (bridge + host-local IPAM) called as a
// runtime calls them, inside the sandbox's node namespace: one bridge (cni0) holding the
// gateway addresses, ordinary bridge ports, so pod-to-pod frames are switched, not routed; no
// masquerade, no rules, no daemon. The client talks to srv1's pod address.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Pod, Sandbox } from '../../src/sandbox';
import { NETNS_DIR, podFromResult } from '../../src/sandbox/cni';
import { NetnsExecError } from '../../src/netns/exec';
import { buildTopology, type Topology } from '../topology';
import { podTargets } from './services';
import type { Active, Configuration } from './types';

/** Where distributions install the reference plugins. */
const PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
const BRIDGE = 'cni0';

function pluginDir(): string | undefined {
  return PLUGIN_DIRS.find((d) => existsSync(path.join(d, 'bridge')) && existsSync(path.join(d, 'host-local')));
}

/** The network config a plain node's runtime would hold: bridge + host-local, dual-stack. */
function netConf(sb: Sandbox): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'plain', type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: false, mtu: 1500,
    ipam: {
      type: 'host-local', ranges: [[{ subnet: sb.podCIDR4 }], [{ subnet: sb.podCIDR6 }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: path.join(sb.dir, 'host-local'),
    },
  };
}

/** ADD of the reference bridge plugin for one pod namespace of the sandbox (deleted with it). */
async function addPlainPod(sb: Sandbox, name: string): Promise<Pod> {
  const dir = pluginDir();
  if (!dir) throw new Error(`no reference CNI plugins in ${PLUGIN_DIRS.join(' or ')}`);
  const ns = await sb.addBareNamespace(name);
  mkdirSync(path.join(sb.dir, 'host-local'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: ns, CNI_NETNS: path.join(NETNS_DIR, ns),
    CNI_IFNAME: 'eth0', CNI_PATH: dir,
  };
  try {
    const { stdout } = await sb.exec(sb.nodeNs, [path.join(dir, 'bridge')], { env, input: JSON.stringify(netConf(sb)) });
    const r = JSON.parse(stdout) as Parameters<typeof podFromResult>[0];
    const { ip4, ip6 } = podFromResult(r);
    // The result lists the bridge too: the host veth is the other interface outside the pod.
    const hostVeth = r.interfaces?.find((i) => !i.sandbox && i.name !== BRIDGE)?.name ?? '';
    return { name, ns, ip4, ip6, hostVeth };
  } catch (e) {
    // The plugin reports its error as JSON on stdout.
    if (e instanceof NetnsExecError) throw new Error(`bridge ADD ${name}: ${e.stdout.trim() || e.message}`);
    throw e;
  }
}

export const plain: Configuration = {
  id: 'plain',
  label: 'plain node pod→pod (bridge + host-local, no podnet)',
  async unavailable() {
    return pluginDir() ? null : `no reference CNI plugins (bridge, host-local) in ${PLUGIN_DIRS.join(' or ')}`;
  },
  topology: () => buildTopology({ sandbox: { bridge: BRIDGE }, addPod: addPlainPod }),
  async setup(topo: Topology): Promise<Active> {
    return {
      targets: podTargets(topo),
      async teardown() { /* the sandbox goes with its namespaces; host-local's state with its dir */ },
    };
  },
};
