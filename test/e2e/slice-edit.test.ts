// The control plane's e2e bar: podnetd on a manifest directory (ManifestSource → ControlPlane → engine) in
// a sandbox. A Service's EndpointSlice file is rewritten from endpoint A to endpoint B while a
// client in a pod opens one connection after another: every connection begun more than 1 s after
// the write reaches B, and B serves within 1 s. Then broken files (invalid YAML, an invalid
// Service) next to it: one clear log line each, the service keeps being served. IPv4 and IPv6.
import path from 'node:path';
import t from 'tap';
import { Podnetd, Sandbox, serviceObjects, type Pod } from '../../src/sandbox';
import type { ManagedProcess } from '../../src/sandbox/process';
import { daemonEnv, jsonLines } from '../daemon/fixtures';
import { privileged } from './fixtures/helpers';

const VIP4 = '10.96.0.40';
const VIP6 = 'fd00:10:96::40';
const PORT = 80;
const TARGET = 8080;
const BUDGET_MS = 1000;
const ROUNDS = 3;

/** One connection as the client saw it: start and end (epoch ms) and who answered. */
interface Conn { s: number; e: number; n?: string; err?: string }

// A client that keeps opening HTTP connections (Connection: close, no agent) until it is stopped,
// printing one JSON line per connection. Wall-clock times: same machine as the test.
const CLIENT = `
const http = require('node:http');
const [host, port] = process.argv.slice(1);
const one = () => new Promise((resolve) => {
  const s = Date.now();
  const req = http.get({ host, port: Number(port), path: '/', agent: false, timeout: 1000 }, (res) => {
    let n = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { n += d; });
    res.on('end', () => { console.log(JSON.stringify({ s, e: Date.now(), n })); resolve(); });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err) => { console.log(JSON.stringify({ s, e: Date.now(), err: err.code || err.message })); setTimeout(resolve, 5); });
});
// Several loops, so the switch lands on connections at every stage. A connection in flight to
// the endpoint that left is cut: the engine answers its next packet with a reset both ways.
console.log('started');
for (let i = 0; i < 4; i++) (async () => { for (;;) await one(); })();
`;

function conns(p: ManagedProcess, from: number): Conn[] {
  return p.lines.slice(from).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Conn);
}

t.test('EndpointSlice edits in the manifest directory', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const client = await sb.addPod('client');
  const a = await sb.addPod('epa');
  const b = await sb.addPod('epb');
  const other = await sb.addPod('other');
  for (const p of [a, b, other]) await sb.serve(p, 'http-server', TARGET, p.name);

  const web = (ep: Pod) => serviceObjects({ name: 'web', clusterIPs: [VIP4, VIP6], ports: [{ name: 'http', port: PORT, targetPort: TARGET }], endpoints: [{ pod: ep }] });
  const keeper = serviceObjects({ name: 'keeper', clusterIPs: ['10.96.0.41', 'fd00:10:96::41'], ports: [{ name: 'http', port: PORT, targetPort: TARGET }], endpoints: [{ pod: other }] });
  const [webSvc, ...webSlices] = web(a);
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv() });
  podnetd.writeManifest('web-svc.yaml', [webSvc]);
  podnetd.writeManifest('web-slices.yaml', webSlices);
  podnetd.writeManifest('keeper.yaml', keeper);
  await podnetd.waitForServices((s) => s.services.length === 4 && s.services.every((x) => x.backends.length === 1));

  let from: Pod = a; // where the slice points now; each round moves it to the other endpoint
  for (const [f, vip] of [[4, VIP4], [6, VIP6]] as const) {
    await t.test(`IPv${f}: new connections move within ${BUDGET_MS} ms of the write`, async (t) => {
      const cl = await sb.spawn(client.ns, [process.execPath, '-e', CLIENT, vip, String(PORT)], { readyLine: /^started$/ });
      t.teardown(() => cl.stop());
      for (let round = 1; round <= ROUNDS; round++) {
        const to = from === a ? b : a;
        // Traffic settles on `from` first.
        const settle = cl.lines.length;
        await cl.waitForLine((l) => l.includes(`"n":"${from.name}"`), { from: settle, timeoutMs: 5000 });
        await new Promise((r) => setTimeout(r, 300));
        const mark = cl.lines.length;
        const [, ...slices] = web(to);
        podnetd.writeManifest('web-slices.yaml', slices);
        const wrote = Date.now();
        await new Promise((r) => setTimeout(r, BUDGET_MS + 700));
        const seen = conns(cl, mark);
        const firstTo = seen.find((c) => c.n === to.name && c.s >= wrote);
        const lastFrom = seen.filter((c) => c.n === from.name).at(-1);
        const errors = seen.filter((c) => c.err);
        t.ok(firstTo, `round ${round}: ${to.name} answered (${seen.length} connections)`);
        const toMs = firstTo ? firstTo.e - wrote : Infinity;
        const fromMs = lastFrom ? lastFrom.s - wrote : -Infinity;
        t.ok(toMs < BUDGET_MS, `round ${round}: first connection served by ${to.name} ${toMs} ms after the write`);
        t.ok(fromMs < BUDGET_MS, `round ${round}: last connection to ${from.name} began ${fromMs} ms after the write`);
        const late = seen.filter((c) => c.s >= wrote + BUDGET_MS);
        t.ok(late.length > 0, `round ${round}: ${late.length} connections began after the budget`);
        t.same(late.filter((c) => c.n !== to.name), [], `round ${round}: every one of them reached ${to.name}`);
        // A connection in flight to the endpoint that left is cut, with a reset both ways (the
        // engine's reset_cut_flow), not left to time out; nothing that began after the budget fails.
        t.same(late.filter((c) => c.err), [], `round ${round}: no connection begun after the budget failed`);
        t.ok(errors.every((c) => c.s < wrote + BUDGET_MS), `round ${round}: only connections in flight at the switch failed: ${JSON.stringify(errors)}`);
        t.same(errors.filter((c) => c.err !== 'ECONNRESET' && c.err !== 'ECONNREFUSED'), [], `round ${round}: a cut connection is reset, never left hanging`);
        t.ok(errors.every((c) => c.e - c.s < 700), `round ${round}: cut connections ended within 700 ms: ${JSON.stringify(errors.map((c) => c.e - c.s))}`);
        if (!firstTo || late.length === 0) {
          t.comment(`round ${round} connections: ${JSON.stringify(seen.map((c) => [c.s - wrote, c.e - c.s, c.n ?? c.err]))}`);
          const st = await podnetd.stats();
          t.comment(`engine: flows ${JSON.stringify(st.flows)} drops ${JSON.stringify(st.drops)} replies ${JSON.stringify(st.replies)}`);
          t.comment(`programmed: ${JSON.stringify((await podnetd.ctl.services()).services.map((x) => [x.vip, x.backends.map((y) => y.name)]))}`);
        }
        t.comment(`IPv${f} round ${round}: ${from.name}→${to.name} first ${to.name} at +${toMs} ms, last ${from.name} at +${fromMs} ms`);
        from = to;
      }
    });
  }

  await t.test('broken files next to it: one clear line each, the others keep being served', async (t) => {
    const logFrom = podnetd.proc.lines.length;
    podnetd.writeManifest('broken-yaml.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: broken\nspec: [\n');
    podnetd.writeManifest('broken-svc.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: broken-svc, namespace: default}\nspec:\n  clusterIP: 10.96.0.42\n  ports: [{name: http, port: 99999}]\n');
    await podnetd.proc.waitForLine(/"msg":"manifests reloaded"/, { from: logFrom, timeoutMs: 5000 });
    const skipped = jsonLines(podnetd.proc.lines.slice(logFrom)).filter((l) => l.msg === 'invalid manifest document skipped') as Array<{ file?: string; field?: string; reason?: string; doc?: number }>;
    const yamlLines = skipped.filter((l) => l.file === 'broken-yaml.yaml');
    const svcLines = skipped.filter((l) => l.file === 'broken-svc.yaml');
    t.equal(yamlLines.length, 1, `one line for the invalid YAML: ${JSON.stringify(yamlLines)}`);
    t.equal(yamlLines[0]?.doc, 0, 'it names the document');
    t.ok(yamlLines[0]?.reason, 'and the parser\'s reason');
    t.equal(svcLines.length, 1, `one line for the invalid Service: ${JSON.stringify(svcLines)}`);
    t.equal(svcLines[0]?.field, 'spec.ports[0].port', 'it names the field');
    t.match(svcLines[0]?.reason ?? '', /65535/, 'and why');

    const s = await podnetd.ctl.services();
    t.equal(s.services.length, 4, 'web and keeper still programmed, nothing from the broken files');
    for (const vip of [VIP4, VIP6, '10.96.0.41', 'fd00:10:96::41']) {
      const r = await sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number> }>(client.ns, 'http-burst', [vip, PORT, 10, 2]);
      t.same(r.errors, {}, `${vip} answers`);
      t.equal(Object.values(r.tally).reduce((x, y) => x + y, 0), 10);
    }
    t.ok((await podnetd.status()).podnetd.healthy, 'podnetd healthy');

    // The next edit of the good slice still goes through, with the broken files still there.
    const [, ...slices] = web(other);
    podnetd.writeManifest('web-slices.yaml', slices);
    await podnetd.waitForServices((x) => x.services.filter((y) => y.vip === VIP4 || y.vip === VIP6).every((y) => y.backends[0]?.ip === other.ip4 || y.backends[0]?.ip === other.ip6), 5000);
    const r = await sb.agentRun<{ tally: Record<string, number> }>(client.ns, 'http-burst', [VIP4, PORT, 5, 1]);
    t.same(r.tally, { [other.name]: 5 }, 'edits keep applying');
    t.comment(`manifests in ${path.relative(sb.dir, podnetd.manifestDir)}`);
  });
});
