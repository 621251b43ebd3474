// A fake API server (listening on this process's loopback) made reachable from a sandbox node
// namespace as http://127.0.0.1:6443, and a kubeconfig file for podnetd pointing there:
//   node netns 127.0.0.1:6443 (socat) → unix socket in the sandbox dir → this process → api.port
// The relay's connections are cut at teardown: podnetd's watches stay open as long as it runs.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import type { Sandbox } from '../../src/sandbox';

/** Returns the kubeconfig path (in the sandbox dir). `apiPort`: the fake server's loopback port. */
export async function apiInNode(t: Test, sb: Sandbox, apiPort: number): Promise<string> {
  const relayPath = path.join(sb.dir, 'api.sock');
  const conns = new Set<net.Socket>();
  const relay = net.createServer((c) => {
    const up = net.connect(apiPort, '127.0.0.1');
    conns.add(c).add(up);
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => relay.listen(relayPath, r));
  t.teardown(() => new Promise<void>((r) => { relay.close(() => r()); for (const c of conns) c.destroy(); }));
  await sb.spawn(sb.nodeNs, ['socat', 'TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr', `UNIX-CONNECT:${relayPath}`]);
  await new Promise((r) => setTimeout(r, 200));
  const kubeconfig = path.join(sb.dir, 'kubeconfig');
  writeFileSync(kubeconfig, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server: 'http://127.0.0.1:6443', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'podnet', user: {} }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'podnet' } }],
  }));
  return kubeconfig;
}
