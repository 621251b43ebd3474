// Restart without breaking traffic: a paced TCP transfer runs through a VIP while
// podnetd is killed with SIGKILL (and, separately, stopped with SIGTERM) and started again. The
// transfer must complete byte-exact with no reset: the TUN persists (routes into it stay), the
// flow table lives in the state file, and the new engine rebinds the restored flows at its first
// sync, before it reads a packet. Figures (downtime, time to READY, stall, retransmits) are
// printed as test comments.
import t from 'tap';
import { Podnetd, Sandbox, serviceObjects, type Pod } from '../../src/sandbox';
import { requires, isRoot } from '../helpers/privileged';
import { daemonEnv } from './fixtures';
import { clientAndEndpoints, sandboxFor } from '../helpers/sandbox';

const VIP = '10.96.0.20';
const PORT = 9000;
const BYTES = 40 * 1024 * 1024;
const RATE = 12 * 1024 * 1024; // ~3.3 s per transfer: the restart lands in the middle

interface SendResult { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; ms: number; maxGapMs: number; error?: string }

async function retransmits(sb: Sandbox, pod: Pod): Promise<number> {
  const { stdout } = await sb.exec(pod.ns, ['nstat', '-az', 'TcpRetransSegs']);
  const m = /TcpRetransSegs\s+(\d+)/.exec(stdout);
  return m ? Number(m[1]) : 0;
}

t.test('restart without reset', requires({ root: isRoot }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const { client, eps } = await clientAndEndpoints(sb, 2, (p) => sb.serve(p, 'sink-server', PORT));
  let podnetd = await Podnetd.startManifests(sb, { env: daemonEnv() });
  podnetd.writeManifest('sink.yaml', serviceObjects({
    name: 'sink', clusterIPs: [VIP], ports: [{ name: 'data', port: PORT, targetPort: PORT }], endpoints: eps.map((pod) => ({ pod })),
  }));
  await podnetd.waitForServices((s) => s.services.some((x) => x.vip === VIP && x.backends.length === 2));

  for (const mode of ['SIGKILL', 'SIGTERM'] as const) {
    await t.test(`${mode} mid-transfer, then start again`, async (t) => {
      const before = await retransmits(sb, client);
      const sender = await sb.spawn(client.ns, sb.agent('send-paced', VIP, PORT, BYTES, mode === 'SIGKILL' ? 7 : 8, RATE), { readyLine: /^connected$/ });
      await new Promise((r) => setTimeout(r, 800));
      // The transfer is the most recently active flow through the VIP (earlier ones may linger in TIME_WAIT).
      const current = (fl: { flows: { idleMs: number; backend: string; client: string }[] }) => [...fl.flows].sort((a, b) => a.idleMs - b.idleMs).slice(0, 1);
      const flowsBefore = { flows: current(await podnetd.ctl.flows({ vip: VIP })) };
      t.equal(flowsBefore.flows.length, 1, 'the transfer is a flow through the VIP');

      const tDown = performance.now();
      if (mode === 'SIGKILL') await podnetd.kill(); else t.equal(await podnetd.stop(), 0, 'SIGTERM exits 0');
      podnetd = await podnetd.restart({ env: daemonEnv() });
      const downMs = performance.now() - tDown;

      const st = await podnetd.status();
      t.ok(st.engine.restoredFlows, 'the new engine restored the flow table from the state file');
      const after = (await podnetd.ctl.flows({ vip: VIP })).flows.filter((f) => f.client === flowsBefore.flows[0].client);
      t.same(after.map((f) => f.backend), flowsBefore.flows.map((f) => f.backend), 'the same flow, to the same backend, after the restart');

      await sender.exited;
      const line = sender.lines.filter((l) => l.startsWith('{')).pop() ?? '{}';
      const r = JSON.parse(line) as SendResult;
      t.notOk(r.error, `no socket error (got ${r.error ?? 'none'})`);
      t.equal(r.remoteBytes, BYTES, 'every byte arrived');
      t.equal(r.remoteHash, r.localHash, 'byte-exact (sha256)');
      const retrans = (await retransmits(sb, client)) - before;
      const ready = JSON.parse(podnetd.proc.lines.find((l) => l.includes('"msg":"ready"')) ?? '{}') as { startupMs?: number; flows?: number };
      t.comment(`${mode}: podnetd down→ready ${downMs.toFixed(0)} ms (spawn→ready ${podnetd.startMs.toFixed(0)} ms, of which podnetd's own start-up ${ready.startupMs} ms with ${ready.flows} restored flows), ` +
        `transfer ${r.ms} ms (ideal ${(BYTES / RATE * 1000).toFixed(0)}), longest write stall ${r.maxGapMs} ms, client TCP retransmits ${retrans}`);
    });
  }
  t.equal(await podnetd.stop(), 0, 'final stop exits 0');
});
