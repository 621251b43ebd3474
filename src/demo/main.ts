// `npm run demo`: podnet's main job, end to end, in network namespaces on this machine.
// A sandbox node runs podnetd on a manifest directory; three pods serve HTTP; the Service "web"
// and its EndpointSlices are a YAML file, read by the same control plane a cluster node uses.
// A client pod sends a few hundred requests to the VIP; then web2 leaves the EndpointSlice (the
// file is rewritten) and traffic moves. podnetctl's view (services, status) is shown at each
// step, and everything is cleaned up at the end, on failure too.
import { existsSync } from 'node:fs';
import { formatServices, formatStatus } from '../ctl/format';
import { addonPath } from '../engine';
import { cniAvailable, Podnetd, Sandbox, sandboxUnavailable, serviceObjects, toYaml, type Pod } from '../sandbox';

const VIP = '10.96.0.10';
const VIP6 = 'fd00:10:96::a';
const PORT = 80;
const BACKEND_PORT = 8080;

interface Burst { tally: Record<string, number>; errors: Record<string, number> }

function manifest(web: Pod[], leaving: Pod[] = []) {
  return serviceObjects({
    name: 'web', clusterIPs: [VIP, VIP6], ports: [{ name: 'http', port: PORT, targetPort: BACKEND_PORT }],
    endpoints: web.filter((p) => !leaving.includes(p)).map((pod) => ({ pod })),
  });
}

function bar(done: number, total: number, width = 30): string {
  const n = Math.round((done / total) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${done}/${total}`;
}

async function requests(sb: Sandbox, client: Pod, vip: string, total: number, label: string): Promise<Burst> {
  const sum: Burst = { tally: {}, errors: {} };
  const chunk = 50;
  const tty = process.stdout.isTTY;
  for (let done = 0; done < total; done += chunk) {
    const n = Math.min(chunk, total - done);
    const r = await sb.agentRun<Burst>(client.ns, 'http-burst', [vip, PORT, n, 4]);
    for (const [k, v] of Object.entries(r.tally)) sum.tally[k] = (sum.tally[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.errors)) sum.errors[k] = (sum.errors[k] ?? 0) + v;
    if (tty) process.stdout.write(`\r  ${label} ${bar(done + n, total)}`);
  }
  process.stdout.write(tty ? '\n' : `  ${label} ${bar(total, total)}\n`);
  return sum;
}

function spread(b: Burst, names: string[]): void {
  const total = Object.values(b.tally).reduce((a, c) => a + c, 0);
  for (const n of names) {
    const c = b.tally[n] ?? 0;
    console.log(`    ${n.padEnd(6)} ${String(c).padStart(4)}  ${'█'.repeat(Math.round((c / Math.max(total, 1)) * 40))}`);
  }
  const errs = Object.entries(b.errors);
  console.log(errs.length ? `    errors: ${JSON.stringify(b.errors)}` : '    errors: none');
}

function indent(text: string, by = '    '): string {
  return text.split('\n').map((l) => by + l).join('\n');
}

async function show(podnetd: Podnetd): Promise<void> {
  console.log('\n   podnetctl services:');
  console.log(indent(formatServices(await podnetd.ctl.services())));
}

async function main(): Promise<void> {
  const why = await sandboxUnavailable();
  if (why) { console.error(`podnet demo: ${why}; run it as root (sudo npm run demo)`); process.exit(1); }
  if (!existsSync(addonPath())) { console.error(`podnet demo: engine not built (${addonPath()}); run npm run build`); process.exit(1); }

  console.log('podnet demo: a userspace service data plane on a TUN device, in network namespaces\n');
  const sb = await Sandbox.create();
  try {
    console.log(`1. node namespace ${sb.nodeNs} (bridge ${sb.bridge}, pod CIDRs ${sb.podCIDR4} + ${sb.podCIDR6})`);
    // Pods as a container runtime makes them: through the podnet CNI plugin (when it is built).
    const cni = cniAvailable();
    const addPod = (n: string) => (cni ? sb.addPodCni(n) : sb.addPod(n));
    const client = await addPod('client');
    const web = [await addPod('web1'), await addPod('web2'), await addPod('web3')];
    for (const p of web) await sb.serve(p, 'http-server', BACKEND_PORT, p.name);
    console.log(`   pods (${cni ? 'CNI ADD by bin/podnet' : 'veth pairs made by hand'}): client ${client.ip4}; ${web.map((p) => `${p.name} ${p.ip4}`).join(', ')} (HTTP :${BACKEND_PORT})`);

    const podnetd = await Podnetd.startManifests(sb);
    podnetd.writeManifest('web.yaml', manifest(web));
    await podnetd.waitForServices((s) => s.services.length === 2 && s.services.every((x) => x.backends.length === 3));
    const yaml = toYaml(manifest(web)).split('\n');
    console.log(`2. podnetd (pid ${podnetd.pid}) serves the manifest directory ${podnetd.manifestDir}`);
    console.log(`   web.yaml: a Service (clusterIPs ${VIP}, ${VIP6}; port ${PORT} → ${BACKEND_PORT}) and two EndpointSlices, ${yaml.length} lines:`);
    console.log(indent(yaml.slice(0, 14).join('\n')));
    console.log('    ...\n');

    console.log(`3. 300 HTTP requests from the client pod to http://${VIP}/ (a new connection each), then 60 over IPv6`);
    const first = await requests(sb, client, VIP, 300, 'IPv4');
    spread(first, web.map((p) => p.name));
    const v6 = await requests(sb, client, `${VIP6}`, 60, 'IPv6');
    spread(v6, web.map((p) => p.name));
    await show(podnetd);

    console.log(`\n4. web2 leaves the EndpointSlices (web.yaml rewritten; podnetd watches the directory)`);
    const t0 = performance.now();
    podnetd.writeManifest('web.yaml', manifest(web, [web[1]]));
    await podnetd.waitForServices((s) => s.services.every((x) => x.backends.length === 2));
    console.log(`   programmed ${(performance.now() - t0).toFixed(0)} ms after the write`);
    const second = await requests(sb, client, VIP, 150, 'IPv4');
    spread(second, web.map((p) => p.name));
    await show(podnetd);
    console.log('\n   podnetctl status:');
    console.log(indent(formatStatus(await podnetd.status())));

    const lost = (second.tally.web2 ?? 0) + Object.values({ ...first.errors, ...second.errors, ...v6.errors }).reduce((a, c) => a + c, 0);
    await podnetd.stop();
    console.log('\n5. podnetd stopped; cleaning up the namespaces');
    if (lost) throw new Error(`${lost} requests failed or reached the removed endpoint`);
  } finally {
    await sb.destroy();
  }
  console.log('done.');
}

main().catch((e: unknown) => {
  console.error('podnet demo failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
