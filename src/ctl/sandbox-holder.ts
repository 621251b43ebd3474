// The process that owns a `podnetctl sandbox up` sandbox while it lives: it builds the node
// namespace, a client pod and N web pods (HTTP on 8080), runs podnetd on a manifest directory
// with the Service "web" (10.96.0.10 and fd00:10:96::a, port 80), writes the state file that
// `sandbox status|exec|down` read, then waits. Pods come from the real `podnet` CNI plugin when
// it is built (--veth: by hand, as the e2e tests make them). SIGTERM (from `sandbox down`) tears it all down.
// Being the sandbox's owner PID is what keeps a concurrent sweepStale() away from it.
import { rmSync, writeFileSync, renameSync } from 'node:fs';
import { cniAvailable, Podnetd, Sandbox, serviceObjects, type Pod } from '../sandbox';

export const SANDBOX_VIP4 = '10.96.0.10';
export const SANDBOX_VIP6 = 'fd00:10:96::a';

export interface SandboxState {
  name: string;
  id: string;
  holderPid: number;
  ready: boolean;
  nodeNs: string;
  podnetdPid: number;
  socket: string;
  manifests: string;
  config: string;
  vips: string[];
  pods: { name: string; ns: string; ip4: string; ip6: string }[];
  /** Pods were made by the podnet CNI plugin (else by hand: veth + addresses). */
  cni: boolean;
  error?: string;
}

function writeState(file: string, s: SandboxState): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2));
  renameSync(`${file}.tmp`, file);
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] ?? def : def;
}

async function hold(): Promise<void> {
  const name = arg('name', 'default');
  const file = arg('state', '');
  const pods = Math.max(1, Math.min(8, Number(arg('pods', '3')) || 3));
  if (!file) throw new Error('--state FILE is required');
  process.on('exit', () => rmSync(file, { force: true }));
  const cni = !process.argv.includes('--veth') && cniAvailable();
  const sb = await Sandbox.create();
  const addPod = (n: string) => (cni ? sb.addPodCni(n) : sb.addPod(n));
  const podList: Pod[] = [];
  const client = await addPod('client');
  podList.push(client);
  const web: Pod[] = [];
  for (let i = 1; i <= pods; i++) {
    const p = await addPod(`web${i}`);
    await sb.serve(p, 'http-server', 8080, p.name);
    web.push(p);
    podList.push(p);
  }
  const podnetd = await Podnetd.startManifests(sb);
  podnetd.writeManifest('web.yaml', serviceObjects({
    name: 'web', clusterIPs: [SANDBOX_VIP4, SANDBOX_VIP6], ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    endpoints: web.map((pod) => ({ pod })), nodeName: sb.nodeNs,
  }));
  await podnetd.waitForServices((s) => s.services.length === 2);
  writeState(file, {
    name, id: sb.id, cni, holderPid: process.pid, ready: true, nodeNs: sb.nodeNs, podnetdPid: podnetd.pid,
    socket: podnetd.socket, manifests: podnetd.manifestDir, config: podnetd.configFile, vips: [SANDBOX_VIP4, SANDBOX_VIP6],
    pods: podList.map((p) => ({ name: p.name, ns: p.ns, ip4: p.ip4, ip6: p.ip6 })),
  });
  console.log(`sandbox ${name} (${sb.id}) ready`);
  // Sandbox's own signal handlers (src/sandbox/cleanup.ts) kill our children by PID and delete
  // the namespaces on SIGTERM/SIGINT; the exit hook above removes the state file.
  setInterval(() => undefined, 1 << 30);
}

if (require.main === module) {
  hold().catch((e: unknown) => {
    console.error(`sandbox holder failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
