// UDP request/response through a VIP, IPv4 and IPv6: every answer comes back from VIP:port
// (reverse NAT), all three endpoints take part, nothing is lost.
import t from 'tap';
import { PATHS, FAMILIES, UDP_PORT, serviceEnv, vip } from './fixtures/helpers';

interface Ask { tally: Record<string, number>; lost: number; wrongSource: number }

for (const path of PATHS) {
  t.test(`UDP request/response through a VIP${path.name ? `, ${path.name}` : ''}`, async (t) => {
    const env = await serviceEnv(t, { fastPath: path.fastPath });
    if (!env) return;
    t.equal((await env.podnetd.status()).fastPath?.mode, path.fastPath ? 'on' : 'off', `podnetd runs with the ${path.name}`);
    const { sb, client, endpoints } = env;
    for (const f of FAMILIES) {
      await t.test(`IPv${f}: one socket, many exchanges`, async (t) => {
        const r = await sb.agentRun<Ask>(client.ns, 'udp-ask', [vip(f), UDP_PORT, 50]);
        t.equal(r.wrongSource, 0, 'no answer from a non-VIP source');
        t.equal(r.lost, 0, 'no exchange lost');
        const names = Object.keys(r.tally);
        t.equal(names.length, 1, `one socket is one flow: one endpoint (${names})`);
        t.ok(endpoints.some((e) => e.name === names[0]), 'answered by an endpoint');
      });
      await t.test(`IPv${f}: new sockets spread over endpoints`, async (t) => {
        const seen = new Set<string>();
        for (let i = 0; i < 12 && seen.size < 3; i++) {
          const r = await sb.agentRun<Ask>(client.ns, 'udp-ask', [vip(f), UDP_PORT, 2]);
          t.equal(r.lost + r.wrongSource, 0, `socket ${i}: answered from the VIP`);
          for (const k of Object.keys(r.tally)) seen.add(k);
        }
        t.ok(seen.size >= 2, `several endpoints answered: ${[...seen]}`);
      });
    }
  });
}
