// An endpoint is removed (tables file rewritten + SIGHUP): new flows avoid it, and established
// keep-alive connections to the other endpoints carry on undisturbed. IPv4 and IPv6.
import t from 'tap';
import { FAMILIES, HTTP_PORT, serviceEnv, serviceTables, vip } from './fixtures/helpers';

interface Hold { conns: { seen: string[]; errors: number; errorCodes: string[]; requests: number; sockets: number }[] }
interface Burst { tally: Record<string, number>; errors: Record<string, number> }

t.test('endpoint removal', async (t) => {
  const env = await serviceEnv(t);
  if (!env) return;
  const { sb, client, endpoints, podnetd } = env;
  const [gone, ...kept] = endpoints;

  for (const f of FAMILIES) {
    await t.test(`IPv${f}`, async (t) => {
      await podnetd.setTables(serviceTables(endpoints));
      // 9 keep-alive connections for 3 s; the endpoint leaves after ~1 s.
      const hold = sb.agentRun<Hold>(client.ns, 'http-hold', [vip(f), HTTP_PORT, 9, 3000]);
      await new Promise((r) => setTimeout(r, 1000));
      const applied = await podnetd.setTables(serviceTables(kept));
      t.ok(applied.version > 0, `tables v${applied.version} applied`);

      const burst = await sb.agentRun<Burst>(client.ns, 'http-burst', [vip(f), HTTP_PORT, 60, 4]);
      t.same(burst.errors, {}, 'new connections all answered');
      t.notOk(burst.tally[gone.name], `no new flow went to ${gone.name}: ${JSON.stringify(burst.tally)}`);
      t.same(Object.keys(burst.tally).sort(), kept.map((e) => e.name).sort(), 'both remaining endpoints serve');

      const h = await hold;
      const toKept = h.conns.filter((c) => c.seen.length && c.seen[0] !== gone.name);
      t.ok(toKept.length > 0, `${toKept.length} established connections were on the remaining endpoints`);
      for (const c of toKept) {
        t.equal(c.errors, 0, `connection to ${c.seen[0]}: no errors over ${c.requests} requests ${c.errorCodes.join(' ')}`);
        t.equal(c.seen.length, 1, `connection to ${c.seen[0]} stayed on it`);
        t.equal(c.sockets, 1, 'one TCP connection throughout (never reconnected)');
      }
    });
  }
});
