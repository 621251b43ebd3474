// A VIP port with no endpoints is refused at once, not left to time out: TCP gets a RST
// (ECONNREFUSED), a connected UDP socket gets ICMP port unreachable (ECONNREFUSED). IPv4 and IPv6.
import t from 'tap';
import { EMPTY_TCP_PORT, EMPTY_UDP_PORT, FAMILIES, serviceEnv, vip } from './fixtures/helpers';

interface Outcome { result: string; ms: number }

t.test('VIP port without endpoints', async (t) => {
  const env = await serviceEnv(t, { endpoints: 1 });
  if (!env) return;
  const { sb, client } = env;
  for (const f of FAMILIES) {
    await t.test(`IPv${f} TCP: refused at once`, async (t) => {
      const r = await sb.agentRun<Outcome>(client.ns, 'tcp-connect', [vip(f), EMPTY_TCP_PORT]);
      t.equal(r.result, 'ECONNREFUSED', 'connection refused (RST)');
      t.ok(r.ms < 500, `within 500 ms (${r.ms.toFixed(1)} ms)`);
    });
    await t.test(`IPv${f} UDP: port unreachable`, async (t) => {
      const r = await sb.agentRun<Outcome>(client.ns, 'udp-refused', [vip(f), EMPTY_UDP_PORT]);
      t.equal(r.result, 'ECONNREFUSED', 'ICMP port unreachable surfaced as ECONNREFUSED');
      t.ok(r.ms < 1000, `within 1 s (${r.ms.toFixed(1)} ms)`);
    });
  }
  await t.test('counted as replies', async (t) => {
    const st = await env.podnetd.stats();
    t.ok(Object.values(st.replies).reduce((a, b) => a + b, 0) >= 4, `replies: ${JSON.stringify(st.replies)}`);
  });
});
