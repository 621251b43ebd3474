// A 256 MiB TCP transfer through the VIP arrives intact (sha256 at both ends), IPv4 and IPv6,
// with the veths' default offloads, then with tx checksum offload off on the bridge ports (pods
// still send partial checksums, the kernel completes them in software after the engine: the only
// way a wrong NEEDS_CSUM pseudo-header seed shows), then off on every veth end.
import t from 'tap';
import { BACKEND_SINK, FAMILIES, serviceEnv, vip } from './fixtures/helpers';

const BYTES = 256 * 1024 * 1024;

interface Sent { localHash: string; remoteHash: string; bytes: number; remoteBytes: number; ms: number; gbps: number }

t.test('256 MiB through a VIP arrives intact', async (t) => {
  const env = await serviceEnv(t, { sink: true });
  if (!env) return;
  const { sb, client } = env;

  const modes = ['default offloads', 'tx checksum offload off on the bridge ports', 'tx checksum offload off on every veth end'] as const;
  for (const offload of modes) {
    if (offload === modes[1]) await sb.txChecksumOff('host');
    if (offload === modes[2]) await sb.txChecksumOff('both');
    for (const f of FAMILIES) {
      await t.test(`IPv${f}, ${offload}`, async (t) => {
        const r = await sb.agentRun<Sent>(client.ns, 'send', [vip(f), BACKEND_SINK, BYTES, 1000 + f], 120_000);
        t.equal(r.remoteBytes, BYTES, 'the endpoint received every byte');
        t.equal(r.remoteHash, r.localHash, 'sha256 at the endpoint equals sha256 at the client');
        t.comment(`${(r.gbps).toFixed(2)} Gbit/s in ${r.ms} ms`);
      });
    }
  }

  await t.test('no TCP checksum errors in the endpoint stack', async (t) => {
    const st = await env.podnetd.stats();
    t.comment(`engine queues: ${JSON.stringify(st.queues)}`);
    const { stdout } = await sb.exec(env.endpoints[0].ns, ['nstat', '-az', 'TcpInCsumErrors']);
    const csum = stdout.split('\n').filter((l) => /CsumErrors/.test(l)).map((l) => Number(l.split(/\s+/)[1]));
    t.same(csum.filter((n) => n > 0), [], `checksum error counters are zero:\n${stdout}`);
  });
});
