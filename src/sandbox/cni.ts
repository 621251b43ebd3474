// Sandbox pods made by the real `podnet` CNI plugin (bin/podnet), called exactly as a container
// runtime calls it: CNI_* variables, the network config on stdin, run inside the node namespace
// (nsenter --net, so the bridge and host veths land there and never in the root namespace).
// The result's addresses become the Pod. IPAM state lives in the sandbox's own directory.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { SandboxError } from './errors';
import { repoRoot } from './paths';

export const NETNS_DIR = '/var/run/netns';

/** bin/podnet and its compiled code are present (the CNI plugin is built). */
export function cniAvailable(): boolean {
  const root = repoRoot();
  return existsSync(path.join(root, 'bin/podnet')) && existsSync(path.join(root, 'dist/src/cni/main.js'));
}

export interface CniNode {
  nodeNs: string;
  bridge: string;
  podCIDR4: string;
  podCIDR6: string;
  dir: string;
}

/** The network config a node's runtime would hold in /etc/cni/net.d (dual-stack, built-in IPAM). */
export function netConf(node: CniNode): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: 'podnet', type: 'podnet', bridge: node.bridge, mtu: 1500, isolatePods: true,
    ipam: {
      type: 'podnet', ranges: [[{ subnet: node.podCIDR4 }], [{ subnet: node.podCIDR6 }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: path.join(node.dir, 'cni-ipam'),
    },
  };
}

interface CniResult {
  interfaces?: { name: string; sandbox?: string }[];
  ips?: { address: string; interface?: number }[];
}

/** Runs the plugin for one command; resolves with its parsed stdout, rejects with its error. */
export function runCni(node: CniNode, command: 'ADD' | 'DEL' | 'CHECK', containerId: string, podNs: string): Promise<CniResult> {
  mkdirSync(path.join(node.dir, 'cni-ipam'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: path.join(NETNS_DIR, podNs),
    CNI_IFNAME: 'eth0', CNI_PATH: path.join(repoRoot(), 'bin'), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${podNs}`,
    // The plugin refuses to run outside a named namespace: a forgotten nsenter cannot touch the host.
    PODNET_CNI_REQUIRE_NAMED_NETNS: '1', PODNET_CNI_CACHE: path.join(node.dir, 'cni-cache'),
  };
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${path.join(NETNS_DIR, node.nodeNs)}`, path.join(repoRoot(), 'bin/podnet')], { env });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) {
        try { resolve(out.trim() ? JSON.parse(out) as CniResult : {}); } catch { reject(new SandboxError('SANDBOX_CNI', `podnet ${command}: bad result ${out.slice(0, 300)}`)); }
      } else {
        reject(new SandboxError('SANDBOX_CNI', `podnet ${command} ${containerId} exited ${code}: ${out.trim()} ${err.trim()}`.slice(0, 2000)));
      }
    });
    child.stdin.end(JSON.stringify(netConf(node)));
  });
}

/** Addresses and host veth of an ADD result. */
export function podFromResult(r: CniResult): { ip4: string; ip6: string; hostVeth: string } {
  const ip4 = r.ips?.find((x) => !x.address.includes(':'))?.address.split('/')[0];
  const ip6 = r.ips?.find((x) => x.address.includes(':'))?.address.split('/')[0];
  const hostVeth = r.interfaces?.find((i) => !i.sandbox)?.name ?? '';
  if (!ip4 || !ip6) throw new SandboxError('SANDBOX_CNI', `podnet ADD gave no dual-stack addresses: ${JSON.stringify(r.ips)}`);
  return { ip4, ip6, hostVeth };
}
