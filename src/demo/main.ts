// `npm run demo`: podnet's main job, end to end, in network namespaces on this machine.
// A node namespace runs podnetd (engine + TUN + wiring); three endpoint pods serve HTTP; a client
// pod sends a few hundred requests to the VIP 10.96.0.10:80; then one endpoint is removed
// (tables file rewritten + SIGHUP) and traffic moves. Everything is cleaned up at the end.
import { existsSync } from 'node:fs';
import { addonPath } from '../engine';
import type { EngineStats, ServicePortSpec } from '../engine/types';
import { Podnetd, Sandbox, sandboxUnavailable, type Pod } from '../sandbox';

const VIP = '10.96.0.10';
const VIP6 = 'fd00:10:96::a';
const PORT = 80;
const BACKEND_PORT = 8080;

interface Burst { tally: Record<string, number>; errors: Record<string, number> }

function tables(endpoints: Pod[]): ServicePortSpec[] {
  return [
    { name: 'default/web:http', vip: VIP, port: PORT, protocol: 'TCP', backends: endpoints.map((p) => ({ ip: p.ip4, port: BACKEND_PORT, name: p.name })) },
    { name: 'default/web:http-v6', vip: VIP6, port: PORT, protocol: 'TCP', backends: endpoints.map((p) => ({ ip: p.ip6, port: BACKEND_PORT, name: p.name })) },
  ];
}

function bar(done: number, total: number, width = 30): string {
  const n = Math.round((done / total) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${done}/${total}`;
}

async function requests(sb: Sandbox, client: Pod, vip: string, total: number, label: string): Promise<Burst> {
  const sum: Burst = { tally: {}, errors: {} };
  const chunk = 25;
  for (let done = 0; done < total; done += chunk) {
    const n = Math.min(chunk, total - done);
    const r = await sb.agentRun<Burst>(client.ns, 'http-burst', [vip, PORT, n, 4]);
    for (const [k, v] of Object.entries(r.tally)) sum.tally[k] = (sum.tally[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.errors)) sum.errors[k] = (sum.errors[k] ?? 0) + v;
    process.stdout.write(`\r  ${label} ${bar(done + n, total)}`);
  }
  process.stdout.write('\n');
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

function counters(st: EngineStats): void {
  for (const s of st.services) {
    console.log(`    ${s.name} ${s.vip}:${s.port}/${s.protocol}  flows ${s.flows}  packets ${s.packets}  bytes ${s.bytes}`);
    for (const b of s.backends) {
      console.log(`      → ${b.ip}:${b.port}${b.terminating ? ' (terminating)' : ''}  flows ${b.flows}  packets ${b.packets}`);
    }
  }
  const drops = Object.entries(st.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  console.log(`    flow table: ${st.flows.active} active / ${st.flows.created} created; passthrough ${st.passthrough}; drops: ${drops}`);
  console.log(`    queues: ${st.queues.map((q) => `q${q.queue} in ${q.packetsIn} out ${q.packetsOut} gso ${q.gsoPackets}`).join(', ')}`);
}

async function main(): Promise<void> {
  const why = await sandboxUnavailable();
  if (why) { console.error(`podnet demo: ${why}; run it as root (sudo npm run demo)`); process.exit(1); }
  if (!existsSync(addonPath())) { console.error(`podnet demo: engine not built (${addonPath()}); run npm run build`); process.exit(1); }

  console.log('podnet demo: a userspace service data plane on a TUN device, in network namespaces\n');
  const sb = await Sandbox.create();
  try {
    console.log(`1. node namespace ${sb.nodeNs} (bridge ${sb.bridge}, pod CIDRs ${sb.podCIDR4} + ${sb.podCIDR6})`);
    const client = await sb.addPod('client');
    const web = [await sb.addPod('web1'), await sb.addPod('web2'), await sb.addPod('web3')];
    for (const p of web) await sb.serve(p, 'http-server', BACKEND_PORT, p.name);
    console.log(`   pods: client ${client.ip4}; ${web.map((p) => `${p.name} ${p.ip4}`).join(', ')} (HTTP :${BACKEND_PORT})`);

    const podnetd = await Podnetd.start(sb, tables(web));
    console.log(`2. podnetd running in the node namespace (pid ${podnetd.pid}): VIP ${VIP}:${PORT} and [${VIP6}]:${PORT} → 3 endpoints\n`);

    console.log(`3. 300 HTTP requests from the client pod to http://${VIP}/ (a new connection each)`);
    const first = await requests(sb, client, VIP, 300, 'IPv4');
    spread(first, web.map((p) => p.name));
    const v6 = await requests(sb, client, VIP6, 60, 'IPv6');
    spread(v6, web.map((p) => p.name));
    console.log('\n   engine counters:');
    counters(await podnetd.stats());

    console.log(`\n4. web2 leaves the service (tables file rewritten, SIGHUP to podnetd)`);
    const applied = await podnetd.setTables(tables([web[0], web[2]]));
    console.log(`   table version ${applied.version} applied`);
    const second = await requests(sb, client, VIP, 150, 'IPv4');
    spread(second, web.map((p) => p.name));
    console.log('\n   engine counters:');
    counters(await podnetd.stats());

    await podnetd.stop();
    console.log('\n5. podnetd stopped; cleaning up the namespaces');
  } finally {
    await sb.destroy();
  }
  console.log('done.');
}

main().catch((e: unknown) => {
  console.error('podnet demo failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
