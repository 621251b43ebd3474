// The datapath probe in a sandbox node: podnetd's pings through the TUN are answered by the
// engine threads (/livez 200, round trips in /metrics, `podnetctl status`); with the engine
// threads stalled by the test hook (PODNET_TEST_HOOKS=1) /livez turns 503 within
// interval × failures + a margin, and 200 again once they read the TUN again. Then
// `podnetctl probe` from the client pod: a SYN to a served VIP port gets a SYN-ACK, to a VIP
// port without backends a RST, a UDP datagram to one an ICMP port unreachable; both families.
// (That the hook exists only with PODNET_TEST_HOOKS=1 is test/daemon/probe-config.test.ts.)
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { run, runStatus } from '../../src/netns/exec';
import { repoRoot } from '../../src/sandbox/paths';
import { Podnetd, Sandbox } from '../../src/sandbox';
import { BACKEND_HTTP, BACKEND_UDP, EMPTY_TCP_PORT, EMPTY_UDP_PORT, FAMILIES, HTTP_PORT, privileged, serviceTables, vip } from './fixtures/helpers';

const PODNETCTL = path.join(repoRoot(), 'bin/podnetctl');
const PROBE = { intervalMs: 300, timeoutMs: 200, failures: 3 };
const MARGIN_MS = 1500;

/** GET on the node namespace's loopback, from a child in that namespace: status code and body. */
async function nodeGet(sb: Sandbox, url: string, method = 'GET'): Promise<{ code: number; body: string }> {
  const { stdout } = await run(sb.nodeNs, ['curl', '-s', '-X', method, '-w', '\n%{http_code}', url]);
  const lines = stdout.trimEnd().split('\n');
  return { code: Number(lines.pop()), body: lines.join('\n') };
}

/** POST on podnetd's control socket (a unix socket works from any namespace). */
function post(socketPath: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: p, method: 'POST', headers: { host: 'podnetd' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitLivez(sb: Sandbox, want: number, withinMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const { code } = await nodeGet(sb, 'http://127.0.0.1:10256/livez');
    if (code === want) return Date.now() - t0;
    if (Date.now() - t0 > withinMs) throw new Error(`/livez still ${code} after ${withinMs} ms (want ${want})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('datapath probe', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const client = await sb.addPod('client');
  const ep = await sb.addPod('ep1');
  await sb.serve(ep, 'http-server', BACKEND_HTTP, ep.name);
  await sb.serve(ep, 'udp-server', BACKEND_UDP, ep.name);
  const podnetd = await Podnetd.start(sb, serviceTables([ep]), {
    config: { health: { probe: PROBE } }, env: { ...process.env, PODNET_TEST_HOOKS: '1' },
  });
  t.teardown(async () => { if (podnetd.proc.running && process.env.PODNET_E2E_LOGS) t.comment(podnetd.logs()); });

  await t.test('answered by the engine: /livez 200, RTT in /metrics and status', async (t) => {
    await waitLivez(sb, 200, 5000);
    const st = await new Promise<import('../../src/ctl/api').StatusReply>((r) => setTimeout(() => r(podnetd.status()), PROBE.intervalMs * 3));
    t.ok(st.probe, 'status has the probe');
    t.equal(st.probe?.live, true, 'live');
    t.equal(st.probe?.consecutiveMisses, 0, 'no miss in a row');
    t.same(st.probe?.targets.map((x) => x.address).sort(), ['169.254.42.2', 'fd00:a9fe:2a::2'], 'one probe address per family');
    t.ok(st.probe?.targets.every((x) => typeof x.rttMs === 'number' && x.rttMs < PROBE.timeoutMs), `round trips ${JSON.stringify(st.probe?.targets)}`);
    const routes = (await sb.ipNode('route', 'show', '169.254.42.2')).stdout;
    t.match(routes, new RegExp(`169\\.254\\.42\\.2 dev ${sb.tun}`), 'probe route into the TUN');
    const m = (await nodeGet(sb, 'http://127.0.0.1:10249/metrics')).body;
    const count = (fam: number) => Number(new RegExp(`^podnet_datapath_probe_duration_seconds_count\\{family="${fam}"\\} (\\d+)`, 'm').exec(m)?.[1] ?? 0);
    t.ok(count(4) >= 2 && count(6) >= 2, `latency histogram per family (${count(4)}, ${count(6)})`);
    t.match(m, /^# TYPE podnet_datapath_probe_misses_total counter/m, 'misses counter exported');
    t.match(m, /^podnet_replies_total\{kind="probe_reply"\} [1-9]/m, 'engine counts probe replies');
    const ctl = await runStatus(null, [process.execPath, PODNETCTL, '--socket', podnetd.socket, 'status']);
    t.match(ctl.stdout, /^probe\s+live; last [\d.]+ ms \(169\.254\.42\.2\)/m, 'podnetctl status shows the probe');
  });

  await t.test('engine threads stalled: /livez 503 in time, then 200 again', async (t) => {
    const pauseMs = PROBE.intervalMs * PROBE.failures + MARGIN_MS + 2000;
    const r = await post(podnetd.socket, `/v1/test/pause-engine?ms=${pauseMs}`);
    t.equal(r.status, 200, `test hook answered ${r.body}`);
    const downMs = await waitLivez(sb, 503, PROBE.intervalMs * PROBE.failures + PROBE.timeoutMs + MARGIN_MS);
    t.pass(`/livez 503 after ${downMs} ms`);
    const st = await podnetd.status();
    t.equal(st.probe?.live, false, 'status: not live');
    t.ok((st.probe?.consecutiveMisses ?? 0) >= PROBE.failures, `consecutive misses ${st.probe?.consecutiveMisses}`);
    const upMs = await waitLivez(sb, 200, pauseMs + MARGIN_MS + 2000);
    t.pass(`/livez 200 again after ${upMs} ms`);
    const m = (await nodeGet(sb, 'http://127.0.0.1:10249/metrics')).body;
    t.match(m, /^podnet_datapath_probe_misses_total\{family="4"\} [1-9]/m, 'misses counted');
  });

  for (const f of FAMILIES) {
    await t.test(`podnetctl probe, IPv${f}`, async (t) => {
      const ctl = (args: string[]) => runStatus(null, [process.execPath, PODNETCTL, '--json', 'probe', '--from', client.ns, ...args]);
      const to = (port: number) => (f === 4 ? `${vip(f)}:${port}` : `[${vip(f)}]:${port}`);
      const served = await ctl(['--to', to(HTTP_PORT)]);
      t.equal(served.exitCode, 0, `served port: ${served.stderr}`);
      const a = JSON.parse(served.stdout) as { answer?: { kind: string; from: string }; ms: number };
      t.equal(a.answer?.kind, 'syn-ack', 'SYN-ACK from a served VIP port');
      t.equal(a.answer?.from, vip(f), 'from the VIP (reverse NAT by the engine)');
      const empty = JSON.parse((await ctl(['--to', to(EMPTY_TCP_PORT)])).stdout) as typeof a;
      t.equal(empty.answer?.kind, 'rst', 'RST from a VIP port without backends');
      const udp = JSON.parse((await ctl(['--to', to(EMPTY_UDP_PORT), '--proto', 'udp'])).stdout) as { answer?: { kind: string; text?: string } };
      t.equal(udp.answer?.kind, 'icmp', 'ICMP for UDP to a port without backends');
      t.equal(udp.answer?.text, 'port unreachable', 'port unreachable');
      const human = await runStatus(null, [process.execPath, PODNETCTL, 'probe', '--from', client.ns, '--to', to(EMPTY_TCP_PORT)]);
      t.match(human.stdout, /RST from /, `human output: ${human.stdout.trim()}`);
      // The other ways to name the pod: its address (the namespace holding it is found) and a namespace file.
      for (const from of [f === 4 ? client.ip4 : client.ip6, `/run/netns/${client.ns}`]) {
        const r = await runStatus(null, [process.execPath, PODNETCTL, '--json', 'probe', '--from', from, '--to', to(HTTP_PORT)]);
        t.match(JSON.parse(r.stdout || '{}'), { netns: from.startsWith('/') ? from : client.ns, answer: { kind: 'syn-ack' } }, `--from ${from} ${r.stderr}`);
      }
    });
  }
});
