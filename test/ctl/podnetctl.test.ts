// podnetctl against a real podnetd: its --json output is checked against the engine's own state
// (the SIGUSR2 stats line, the objects in the manifest directory, traffic the test sent), its
// human output is a readable table, and its errors are coded with exit codes 1 (daemon) and 2
// (usage). bin/podnetctl runs as an operator would run it; the socket is reachable from the
// test's namespace because unix sockets are files, not network addresses.
import path from 'node:path';
import t from 'tap';
import type { FlowsReply, ServicesReply, StatusReply, TraceReply } from '../../src/ctl/api';
import { Podnetd, serviceObjects } from '../../src/sandbox';
import { isRoot, requires } from '../helpers/privileged';
import { daemonEnv } from '../daemon/fixtures';
import { ctl, ctlJson } from './fixtures/run-ctl';
import { clientAndEndpoints, sandboxFor } from '../helpers/sandbox';

const VIP = '10.96.0.40';
const VIP6 = 'fd00:10:96::40';

t.test('podnetctl', requires({ root: isRoot }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const { client, eps } = await clientAndEndpoints(sb, 2, (p) => sb.serve(p, 'http-server', 8080, p.name));
  const idle = await sb.addPod('idle');
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv() });
  podnetd.writeManifest('web.yaml', serviceObjects({
    name: 'web', namespace: 'shop', clusterIPs: [VIP, VIP6], ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    endpoints: [...eps.map((pod) => ({ pod })), { pod: idle, terminating: true }],
  }));
  podnetd.writeManifest('empty.yaml', serviceObjects({ name: 'empty', clusterIPs: ['10.96.0.41'], ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }], endpoints: [] }));
  await podnetd.waitForServices((s) => s.services.length === 3);
  const burst = await sb.agentRun<{ tally: Record<string, number>; errors: object }>(client.ns, 'http-burst', [VIP, 80, 20, 2]);
  t.same(burst.errors, {}, 'traffic through the VIP');
  const sock = podnetd.socket;

  await t.test('services --json matches the engine', async (t) => {
    const r = await ctlJson<ServicesReply>(sock, 'services');
    const st = await podnetd.stats();
    t.equal(r.apiVersion, 'podnet/v1');
    t.equal(r.tableVersion, st.version, 'table version');
    const web4 = r.services.find((s) => s.vip === VIP);
    const eng = st.services.find((s) => s.vip === VIP);
    t.equal(web4?.name, 'shop/web:http', 'named after the Service and its port');
    t.equal(web4?.flows, eng?.flows, 'service flows = engine');
    t.equal(web4?.flows, 20);
    t.same(web4?.backends.map((b) => [b.ip, b.port, b.name, b.weight, b.terminating]),
      [[eps[0].ip4, 8080, 'ep1', 1, false], [eps[1].ip4, 8080, 'ep2', 1, false], [idle.ip4, 8080, 'idle', 0, true]],
      'backends with weights; the terminating one weighs 0');
    for (const b of web4?.backends ?? []) {
      const e = eng?.backends.find((x) => x.ip === b.ip && x.port === b.port);
      t.equal(b.flows, e?.flows, `${b.name} flows = engine`);
      t.equal(b.packets, e?.packets, `${b.name} packets = engine`);
      t.equal(b.flows, burst.tally[b.name ?? ''] ?? 0, `${b.name} flows = requests it answered`);
    }
    t.same(r.services.find((s) => s.vip === '10.96.0.41')?.backends, [], 'the service without endpoints');
    const human = await ctl(sock, 'services');
    t.match(human.out, /^SERVICE PORT\s+VIP → BACKEND\s+POD\s+WEIGHT\s+FLOWS/m, 'human: a table');
    t.match(human.out, /shop\/web:http\s+10\.96\.0\.40:80\/TCP/);
    t.match(human.out, /no backends/);
  });

  await t.test('status --json', async (t) => {
    const s = await ctlJson<StatusReply>(sock, 'status');
    const st = await podnetd.stats();
    t.equal(s.podnetd.pid, podnetd.pid);
    t.ok(s.podnetd.ready && s.podnetd.healthy);
    t.match(s.podnetd.source, /^manifests:/);
    t.equal(s.engine.tun, sb.tun);
    t.equal(s.engine.flows.created, st.flows.created, 'flow counters = engine');
    t.equal(s.engine.queues.length, 1);
    t.equal(s.sync.services, 2);
    t.equal(s.sync.endpointSlices, 3);
    t.equal(s.sync.servicePorts, 3);
    t.equal(s.sync.backends, 6 + 0, 'three backends per family of web, none for empty');
    t.match((await ctl(sock, 'status')).out, /^podnetd\s+pid \d+/m);
  });

  await t.test('flows --json with filters', async (t) => {
    // Keep-alive connections so that established flows exist while we look.
    const hold = sb.agentRun(client.ns, 'http-hold', [VIP, 80, 2, 1500]);
    await new Promise((r) => setTimeout(r, 500));
    const all = await ctlJson<FlowsReply>(sock, 'flows');
    t.ok(all.flows.length >= 2, 'flows listed');
    t.ok(all.flows.every((f) => f.vip === `${VIP}:80`), 'all through the VIP');
    const one = eps[0].ip4;
    const byBackend = await ctlJson<FlowsReply>(sock, 'flows', '--backend', one);
    t.ok(byBackend.flows.every((f) => f.backend.startsWith(`${one}:`)), '--backend filters');
    t.equal(byBackend.flows.length, all.flows.filter((f) => f.backend.startsWith(`${one}:`)).length);
    const byClient = await ctlJson<FlowsReply>(sock, 'flows', '--client', client.ip4, '--proto', 'tcp');
    t.equal(byClient.flows.length, all.flows.length, '--client filters');
    const none = await ctlJson<FlowsReply>(sock, 'flows', '--vip', '10.96.0.99');
    t.equal(none.flows.length, 0, '--vip filters');
    const limited = await ctlJson<FlowsReply>(sock, 'flows', '--limit', '1');
    t.equal(limited.flows.length, 1);
    t.ok(limited.truncated, 'truncated says more matched');
    t.match((await ctl(sock, 'flows')).out, /^PROTO\s+CLIENT\s+VIP\s+BACKEND/m);
    await hold;
  });

  await t.test('trace --json', async (t) => {
    const tr = await ctlJson<TraceReply>(sock, 'trace', '--from', client.ip4, '--to', `${VIP}:80`, '--proto', 'tcp');
    t.equal(tr.result.verdict, 'forward');
    t.equal(tr.result.servicePort, 'shop/web:http');
    t.equal(tr.engineTrace, true, "the engine's own dry run");
    t.ok([`${eps[0].ip4}:8080`, `${eps[1].ip4}:8080`].includes(tr.result.backend ?? ''), 'a ready backend, never the terminating one');
    t.equal(tr.result.existingFlow, false);
    const v6 = await ctlJson<TraceReply>(sock, 'trace', '--from', client.ip6, '--to', `[${VIP6}]:80`);
    t.equal(v6.result.servicePort, 'shop/web:http', 'IPv6');
    const empty = await ctlJson<TraceReply>(sock, 'trace', '--from', client.ip4, '--to', '10.96.0.41:53', '--proto', 'udp');
    t.same([empty.result.verdict, empty.result.reason], ['reject', 'no_backend'], 'no endpoints: reject');
    const port = await ctlJson<TraceReply>(sock, 'trace', '--from', client.ip4, '--to', `${VIP}:81`);
    t.same([port.result.verdict, port.result.reason], ['reject', 'no_service_port']);
    const plain = await ctlJson<TraceReply>(sock, 'trace', '--from', client.ip4, '--to', `${eps[0].ip4}:8080`);
    t.same([plain.result.verdict, plain.result.service], ['forward', false], 'not a VIP: passthrough');
    const before = (await podnetd.stats()).flows.created;
    t.equal(before, (await podnetd.stats()).flows.created, 'trace creates no flow');
    t.match((await ctl(sock, 'trace', '--from', client.ip4, '--to', `${VIP}:80`)).out, /^verdict\s+forward/m);
  });

  await t.test('errors: coded, with exit codes', async (t) => {
    const bad = await ctl(sock, 'trace', '--from', 'nope', '--to', `${VIP}:80`);
    t.equal(bad.code, 1);
    t.match(bad.err, /DAEMON_BAD_REQUEST/);
    const usage = await ctl(sock, 'trace', '--from', client.ip4, '--to', VIP);
    t.equal(usage.code, 2, 'usage error');
    t.equal((await ctl(sock, 'frobnicate')).code, 2);
    const gone = await ctl(path.join(sb.dir, 'no.sock'), 'status');
    t.equal(gone.code, 1);
    t.match(gone.err, /CTL_UNREACHABLE/);
  });
});
