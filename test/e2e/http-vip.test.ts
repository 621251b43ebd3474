// HTTP over TCP from a client pod to a VIP backed by 3 endpoint pods, IPv4 and IPv6: answers
// come from the VIP; 300+ new connections spread within ±50% of even; the client and endpoints
// share one bridge, and a capture on the client shows only the VIP as the source of replies;
// the node itself (a host-network client) reaches the VIP through the service CIDR route.
import t from 'tap';
import { PATHS, FAMILIES, HTTP_PORT, evenSpread, podIp, serviceEnv, vip } from './fixtures/helpers';

interface Burst { tally: Record<string, number>; errors: Record<string, number>; remotes: string[] }

for (const path of PATHS) {
  t.test(`HTTP through a VIP with 3 endpoints${path.name ? `, ${path.name}` : ''}`, async (t) => {
    const env = await serviceEnv(t, { fastPath: path.fastPath });
    if (!env) return;
    t.equal((await env.podnetd.status()).fastPath?.mode, path.fastPath ? 'on' : 'off', `podnetd runs with the ${path.name}`);
    const { sb, client, endpoints, podnetd } = env;
    const names = endpoints.map((e) => e.name);

    for (const f of FAMILIES) {
      await t.test(`IPv${f}: 300 new connections, spread and source`, async (t) => {
        const r = await sb.agentRun<Burst>(client.ns, 'http-burst', [vip(f), HTTP_PORT, 300, 4]);
        t.same(r.errors, {}, 'no request failed');
        const total = Object.values(r.tally).reduce((a, b) => a + b, 0);
        t.equal(total, 300, 'all 300 answered');
        t.same(Object.keys(r.tally).sort(), names, 'every answer from one of the 3 endpoints');
        t.ok(evenSpread(r.tally, names, 300), `each endpoint within ±50% of 100: ${JSON.stringify(r.tally)}`);
        t.same(r.remotes, [vip(f)], 'the client talked to the VIP only');
      });

      await t.test(`IPv${f}: same bridge, replies reverse-NATed (packet capture on the client)`, async (t) => {
        const cap = await sb.spawn(client.ns, ['tcpdump', '-i', 'eth0', '-nn', '-l', '-Q', 'in', '-p', f === 4 ? 'tcp' : 'ip6 and tcp'], {});
        await cap.waitForStderr(/listening on/);
        const r = await sb.agentRun<Burst>(client.ns, 'http-burst', [vip(f), HTTP_PORT, 30, 1]);
        await new Promise((r) => setTimeout(r, 300));
        await cap.stop();
        t.same(r.errors, {}, 'no request failed');
        const lines = cap.lines.filter((l) => / IP6? /.test(l));
        const fromVip = lines.filter((l) => l.includes(` ${vip(f)}.${HTTP_PORT} > `)).length;
        const fromEndpoint = lines.filter((l) => endpoints.some((e) => l.includes(` ${podIp(e, f)}.`))).length;
        t.ok(fromVip >= 30 * 3, `replies seen from the VIP (${fromVip} packets)`);
        t.equal(fromEndpoint, 0, 'no packet arrived with an endpoint address as its source');
      });
    }

    for (const f of FAMILIES) {
      await t.test(`IPv${f}: a host-network client (the node itself) reaches the VIP`, async (t) => {
        const r = await sb.agentRun<Burst>(sb.nodeNs, 'http-burst', [vip(f), HTTP_PORT, 30, 2]);
        t.same(r.errors, {}, 'no request failed');
        t.same(Object.keys(r.tally).sort(), names, `spread over the endpoints: ${JSON.stringify(r.tally)}`);
      });
    }

    await t.test('engine counters saw the flows', async (t) => {
      const st = await podnetd.stats();
      for (const f of FAMILIES) {
        const sp = st.services.find((s) => s.vip === vip(f) && s.port === HTTP_PORT && s.protocol === 'TCP');
        t.ok(sp, `service port ${vip(f)}:${HTTP_PORT} present`);
        t.ok((sp?.flows ?? 0) >= 300, `flows counted: ${sp?.flows} (a reused 4-tuple may reuse its flow)`);
        t.equal(sp?.backends.length, 3, '3 backends');
      }
    });
  });
}
