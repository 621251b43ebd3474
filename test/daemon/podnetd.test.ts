// podnetd as a node service, on a manifest directory through the real control plane: systemd
// notifications (READY, WATCHDOG, STOPPING, against socat as the receiver), /healthz, /livez and
// /metrics (inside the node namespace, on its loopback), manifest changes reaching the engine,
// an invalid document skipped, SIGHUP reloading the config (and surviving a bad one), and
// `--cleanup` leaving a node namespace exactly as it was before podnetd wired it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { parse as parseYaml, stringify } from 'yaml';
import { run } from '../../src/netns/exec';
import { Podnetd, Sandbox, serviceObjects, type Pod } from '../../src/sandbox';
import { bpffsDir } from '../../src/sandbox/sandbox';
import { repoRoot } from '../../src/sandbox/paths';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { daemonEnv, jsonLines } from './fixtures';
import { clientAndEndpoints, sandboxFor } from '../helpers/sandbox';

const VIP = '10.96.0.30';
const VIP6 = 'fd00:10:96::30';

async function curl(sb: Sandbox, ns: string, url: string): Promise<{ code: number; body: string }> {
  const { stdout } = await sb.exec(ns, ['curl', '-s', '-o', '-', '-w', '\n%{http_code}', url]);
  const i = stdout.lastIndexOf('\n');
  return { code: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

/** One sample value from Prometheus text, e.g. sample(text, 'podnet_flows_created_total'). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

function web(eps: Pod[], extra: Partial<Parameters<typeof serviceObjects>[0]> = {}) {
  return serviceObjects({ name: 'web', clusterIPs: [VIP, VIP6], ports: [{ name: 'http', port: 80, targetPort: 8080 }], endpoints: eps.map((pod) => ({ pod })), ...extra });
}

t.test('podnetd on manifests', requires({ root: isRoot, socat: () => haveCommand('socat'), curl: () => haveCommand('curl') }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const { client, eps } = await clientAndEndpoints(sb, 3, (p) => sb.serve(p, 'http-server', 8080, p.name));

  // systemd's side of sd_notify: a datagram socket; socat prints what arrives.
  const notifySock = path.join(sb.dir, 'notify');
  const rx = await sb.spawn(sb.nodeNs, ['socat', '-u', `UNIX-RECV:${notifySock}`, 'STDOUT']);
  for (let i = 0; i < 50 && !existsSync(notifySock); i++) await new Promise((r) => setTimeout(r, 20));
  // Datagrams carry no trailing newline, so collect the raw bytes rather than lines.
  let received = '';
  rx.child.stdout?.on('data', (d: Buffer | string) => { received += `${d}\n`; });
  const notified = () => received;

  // The manifests are there before podnetd starts: READY=1 means they are programmed.
  const dir = Podnetd.paths(sb).manifests;
  const { writeManifest } = await import('../../src/sandbox');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  writeManifest(dir, 'web.yaml', web(eps));
  const podnetd = await Podnetd.startManifests(sb, {
    env: daemonEnv({ NOTIFY_SOCKET: notifySock, WATCHDOG_USEC: '400000' }),
    config: { sync: { healthzTimeoutMs: 2000 } },
  });

  await t.test('the node pod CIDRs are recorded for the CNI plugin', async (t) => {
    const file = path.join(path.dirname(Podnetd.paths(sb).state), 'node.json');
    for (let i = 0; i < 50 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
    t.same(JSON.parse(readFileSync(file, 'utf8')), { podCIDRs: [sb.podCIDR4, sb.podCIDR6] });
  });

  await t.test('READY=1 after the first sync, then WATCHDOG=1 pings', async (t) => {
    for (let i = 0; i < 100 && !/WATCHDOG=1/.test(notified()); i++) await new Promise((r) => setTimeout(r, 20));
    t.match(notified(), /READY=1/, 'READY=1');
    t.match(notified(), /STATUS=serving 2 service ports/, 'STATUS names what is served');
    t.match(notified(), /WATCHDOG=1/, 'watchdog pings at half of WATCHDOG_USEC');
    const ready = jsonLines(podnetd.proc.lines).find((l) => l.msg === 'ready') as { servicePorts: number; startupMs: number };
    t.equal(ready.servicePorts, 2, 'the manifests were programmed before READY');
    t.comment(`spawn→ready ${podnetd.startMs.toFixed(0)} ms; podnetd's own start-up ${ready.startupMs} ms`);
  });

  await t.test('/healthz, /livez and /metrics on the node loopback', async (t) => {
    const r = await sb.agentRun<{ tally: Record<string, number>; errors: object }>(client.ns, 'http-burst', [VIP, 80, 30, 3]);
    t.same(r.errors, {}, 'traffic through the VIP');
    for (const p of ['/healthz', '/livez']) {
      const h = await curl(sb, sb.nodeNs, `http://127.0.0.1:10256${p}`);
      t.equal(h.code, 200, `${p} 200`);
      const body = JSON.parse(h.body) as { lastUpdated: string; currentTime: string };
      t.ok(Date.parse(body.lastUpdated) > 0 && Date.parse(body.currentTime) >= Date.parse(body.lastUpdated), `${p} body {lastUpdated, currentTime}`);
    }
    const m = await curl(sb, sb.nodeNs, 'http://127.0.0.1:10249/metrics');
    t.equal(m.code, 200);
    const st = await podnetd.stats();
    const svc = st.services.find((s) => s.vip === VIP);
    t.equal(sample(m.body, 'podnet_service_flows_total', { vip: VIP, service_port: 'default/web:http' }), svc?.flows, 'per-service flows = engine counter');
    t.equal(svc?.flows, 30, '30 connections counted');
    t.ok((sample(m.body, 'podnet_sync_proxy_rules_duration_seconds_count') ?? 0) >= 1, 'sync duration histogram');
    t.ok((sample(m.body, 'podnet_network_programming_duration_seconds_count') ?? 0) >= 1, 'network programming histogram');
    t.equal(sample(m.body, 'podnet_sync_proxy_rules_service_ports'), 2);
    t.equal(sample(m.body, 'podnet_flow_table_capacity'), st.flows.capacity);
    t.ok(sample(m.body, 'podnet_queue_packets_in_total', { queue: '0' }), 'queue counters');
    t.match(m.body, /# TYPE podnet_packets_dropped_total counter/, 'drops by reason');
    t.equal((await curl(sb, sb.nodeNs, 'http://127.0.0.1:10249/nope')).code, 404);
    const ss = (await sb.exec(sb.nodeNs, ['ss', '-Hltn'])).stdout;
    t.match(ss, /127\.0\.0\.1:10249/, 'metrics bound to 127.0.0.1');
    t.notMatch(ss, /(0\.0\.0\.0|\*|\[::\]):1024[69]/, 'nothing on a wildcard address');
    t.equal((await sb.exec(sb.nodeNs, ['stat', '-c', '%a', podnetd.socket])).stdout.trim(), '600', 'control socket mode 0600');
  });

  await t.test('the embedded CNI server answers the shim protocol', async (t) => {
    t.equal((await sb.exec(sb.nodeNs, ['stat', '-c', '%a', podnetd.cniSocket])).stdout.trim(), '600', 'CNI socket mode 0600');
    // What the podnet shim sends: KEY=VALUE\0 ... \0 then the config on stdin, half-closed.
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(podnetd.cniSocket);
      let out = '';
      c.on('data', (d) => { out += d; });
      c.on('end', () => resolve(out));
      c.on('error', reject);
      c.end(Buffer.concat([Buffer.from('CNI_COMMAND=VERSION\0\0'), Buffer.from('{"cniVersion":"1.0.0"}')]));
    });
    const [code, body] = [reply.slice(0, reply.indexOf('\n')), reply.slice(reply.indexOf('\n') + 1)];
    t.equal(code, '0', 'exit code 0');
    t.ok((JSON.parse(body) as { supportedVersions?: string[] }).supportedVersions?.includes('1.0.0'), 'VERSION answered in-process');
  });

  await t.test('manifest changes reach the engine; an invalid document is skipped', async (t) => {
    podnetd.writeManifest('web.yaml', web(eps.slice(0, 2)));
    await podnetd.waitForServices((s) => s.services.every((x) => x.backends.length === 2));
    const r = await sb.agentRun<{ tally: Record<string, number> }>(client.ns, 'http-burst', [VIP, 80, 40, 4]);
    t.notOk(r.tally.ep3, 'ep3 gets nothing after leaving the EndpointSlice');
    t.equal((r.tally.ep1 ?? 0) + (r.tally.ep2 ?? 0), 40);
    podnetd.writeManifest('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec:\n  ports: [{port: 99999}]\n');
    await podnetd.proc.waitForLine(/invalid manifest document skipped/);
    const line = jsonLines(podnetd.proc.lines).find((l) => l.msg === 'invalid manifest document skipped') as { field?: string; file?: string };
    t.equal(line.file, 'broken.yaml');
    t.match(line.field ?? '', /spec\.ports\[0\]\.port/, 'the log names the field');
    podnetd.removeManifest('broken.yaml');
    const h = await curl(sb, sb.nodeNs, 'http://127.0.0.1:10256/healthz');
    t.equal(h.code, 200, 'still healthy');
  });

  await t.test('SIGHUP reloads the config file; a bad file keeps the running config', async (t) => {
    const cfg = parseYaml(readFileSync(podnetd.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(podnetd.configFile, stringify({ ...cfg, logLevel: 'debug' }));
    let from = podnetd.proc.lines.length;
    podnetd.proc.signal('SIGHUP');
    await podnetd.proc.waitForLine(/"msg":"config reloaded"/, { from });
    podnetd.writeManifest('web.yaml', web(eps));
    await podnetd.proc.waitForLine(/"msg":"synced"/, { from });
    t.pass('debug level live: one line per sync');
    await new Promise((r) => setTimeout(r, 200));
    t.match(notified(), /RELOADING=1/, 'RELOADING=1 told to systemd');

    writeFileSync(podnetd.configFile, stringify({ ...cfg, tun: { name: 'x', queues: 0 } }));
    from = podnetd.proc.lines.length;
    podnetd.proc.signal('SIGHUP');
    const bad = JSON.parse(await podnetd.proc.waitForLine(/config reload failed/, { from })) as { code: string; err: { message: string } };
    t.equal(bad.code, 'DAEMON_BAD_CONFIG');
    t.match(bad.err.message, /tun\.queues/, 'names the key');
    t.ok((await podnetd.status()).podnetd.healthy, 'still serving');
    writeFileSync(podnetd.configFile, stringify(cfg));
  });

  await t.test('SIGTERM: STOPPING=1 and exit 0', async (t) => {
    t.equal(await podnetd.stop(), 0);
    for (let i = 0; i < 50 && !/STOPPING=1/.test(notified()); i++) await new Promise((r) => setTimeout(r, 20));
    t.match(notified(), /STOPPING=1/);
    t.notOk(existsSync(podnetd.socket), 'control socket removed');
    t.ok(existsSync(podnetd.stateFile), 'flow state kept for the next start');
    t.match((await sb.ipNode('link', 'show', sb.tun)).stdout, new RegExp(sb.tun), 'persistent TUN kept');
  });
  rx.signal('SIGTERM');
});

t.test('--cleanup leaves the node namespace as it was', requires({ root: isRoot }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  // A bare namespace: podnetd creates the bridge, TUN, routes and rules itself.
  const ns = await sb.addBareNamespace('node2');
  const snapshot = async () => {
    const out: string[] = [];
    for (const args of [['link'], ['-4', 'addr'], ['-6', 'addr'], ['-4', 'rule'], ['-6', 'rule'], ['-4', 'route', 'show', 'table', 'all'], ['-6', 'route', 'show', 'table', 'all']]) {
      out.push(`## ip ${args.join(' ')}`, (await run(null, ['ip', '-n', ns, '-o', ...args])).stdout.replace(/\s+/g, ' ').trim());
    }
    return out.join('\n');
  };
  const before = await snapshot();
  const podnetd = await Podnetd.startManifests(sb, { ns, env: daemonEnv() });
  const wired = await snapshot();
  t.match(wired, /podnet-tun/, 'wired: TUN present');
  t.match(wired, /lookup 28782/, 'wired: pod rule present');
  t.equal(await podnetd.stop(), 0);
  const r = await run(ns, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', podnetd.configFile, '--cleanup'], { env: daemonEnv() });
  t.match(r.stdout, /"msg":"cleaned up"/);
  t.equal(await snapshot(), before, 'links, addresses, rules and routes exactly as before');
  t.notOk(existsSync(podnetd.stateFile), 'state file removed');
  t.notOk(existsSync(podnetd.socket), 'control socket removed');
  const pins = path.join(bpffsDir(sb.dir), 'podnet');
  if (sb.fastPath) t.same(existsSync(pins) ? readdirSync(pins, { recursive: true }) : [], [], 'kernel flow cache pins removed');
  const again = await run(ns, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', podnetd.configFile, '--cleanup'], { env: daemonEnv() });
  t.match(again.stdout, /"msg":"cleaned up"/, 'repeatable');
});

// podnetd must never run in an unnamed namespace unless told it is a real node.
t.test('refuses an unnamed namespace', requires({ root: isRoot }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const cfg = path.join(sb.dir, 'p.yaml');
  writeFileSync(cfg, stringify(Podnetd.config(sb, 'manifests')));
  const child = spawn('unshare', ['-n', process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', cfg], { env: daemonEnv() });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const code = await new Promise<number | null>((r) => child.once('close', r));
  t.equal(code, 1);
  t.match(out, /"code":"NETNS_HOST_REFUSED"/);
});
