// Configuration 5: haproxy in TCP mode, the userspace L4 proxy users would otherwise pick. It
// listens on the VIP (a local address of the node namespace) and opens its own connection to
// the backend, so every byte crosses userspace twice, like podnet's engine but through sockets.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ManagedProcess } from '../../src/sandbox';
import { VIP, routeInKernel, type Topology } from '../topology';
import { benchServices, vipTargets } from './services';
import type { Active, Configuration } from './types';

function haproxyConfig(topo: Topology): string {
  const blocks = benchServices(topo).map((s) => `
listen ${s.name}
  bind ${VIP}:${s.port}
  balance roundrobin
${s.backends.map((ip, i) => `  server ${s.name}${i} ${ip}:${s.port}`).join('\n')}`);
  // maxconn must stay below the fd limit (20,000 here); short timeouts keep a stuck run from
  // hanging.
  return `global
  maxconn 8000
  log stdout format raw local0 err
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
${blocks.join('\n')}
`;
}

export const haproxy: Configuration = {
  id: 'haproxy',
  label: 'haproxy TCP mode',
  async setup(topo: Topology): Promise<Active> {
    const { sb } = topo;
    await routeInKernel(sb);
    await sb.ipNode('addr', 'add', `${VIP}/32`, 'dev', 'lo');
    const file = path.join(sb.dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig(topo));
    await sb.exec(sb.nodeNs, ['haproxy', '-c', '-q', '-f', file]);
    // -db: foreground, no master process: the PID we hold is the one doing the work.
    const proc: ManagedProcess = await sb.spawn(sb.nodeNs, ['haproxy', '-db', '-f', file]);
    await waitListening(topo, benchServices(topo).map((s) => s.port));
    return {
      targets: vipTargets(),
      dataPlanePid: proc.pid,
      skip: { udpPps: 'haproxy proxies TCP only' },
      async teardown() { await proc.stop(3000); },
    };
  },
};

/** Polls `ss` in the node namespace until every port listens on the VIP. */
async function waitListening(topo: Topology, ports: number[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { stdout } = await topo.sb.exec(topo.sb.nodeNs, ['ss', '-Htln']);
    if (ports.every((p) => stdout.includes(`${VIP}:${p} `))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('haproxy did not start listening');
}
