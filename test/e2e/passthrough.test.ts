// Plain pod-to-pod and pod-to-node traffic works with every pod packet going through the engine
// (isolated bridge ports, proxy ARP/NDP, policy routing into the TUN), and with the kernel flow
// cache carrying a connection once the engine admitted its first packet. IPv4 and IPv6.
import t from 'tap';
import { BACKEND_HTTP, FAMILIES, PATHS, podIp, serviceEnv, type Fam } from './fixtures/helpers';

interface Burst { tally: Record<string, number>; errors: Record<string, number>; remotes: string[] }

for (const path of PATHS) {
  t.test(`pod-to-pod and pod-to-node through the engine, ${path.name}`, async (t) => {
    const env = await serviceEnv(t, { endpoints: 2, fastPath: path.fastPath });
    if (!env) return;
    const { sb, client, endpoints, podnetd } = env;
    const node = await sb.spawn(sb.nodeNs, sb.agent('http-server', 8081, 'node'), { readyLine: /^listening$/ });
    t.teardown(() => node.stop());
    const gw = (f: Fam) => (f === 4 ? sb.gateway4 : sb.gateway6);

    for (const f of FAMILIES) {
      await t.test(`IPv${f} pod-to-pod`, async (t) => {
        const before = (await podnetd.stats()).passthrough;
        const hits0 = (await podnetd.status()).fastPath?.hits ?? 0;
        const r = await sb.agentRun<Burst>(client.ns, 'http-burst', [podIp(endpoints[1], f), BACKEND_HTTP, 20, 2]);
        t.same(r.errors, {}, 'no errors');
        t.same(r.tally, { [endpoints[1].name]: 20 }, 'answered by the pod addressed');
        t.same(r.remotes, [podIp(endpoints[1], f)], 'from its own address');
        const after = (await podnetd.stats()).passthrough;
        if (path.fastPath) {
          // The engine admits each connection on its SYN (counted as passed through); the kernel
        // flow cache carries the rest.
          const hits = ((await podnetd.status()).fastPath?.hits ?? 0) - hits0;
          t.ok(after - before >= 20, `the engine admitted each connection (${after - before})`);
          t.ok(hits >= 20 * 3, `the cache carried the rest (${hits} hits)`);
        } else {
          t.ok(after - before >= 20 * 5, `the engine passed the packets through (${after - before})`);
        }
        const ping = await sb.exec(client.ns, ['ping', `-${f}`, '-c', '3', '-i', '0.2', '-W', '1', podIp(endpoints[0], f)]);
        t.match(ping.stdout, / 0% packet loss/, 'ping between pods');
      });

      await t.test(`IPv${f} pod-to-node`, async (t) => {
        const r = await sb.agentRun<Burst>(client.ns, 'http-burst', [gw(f), 8081, 10, 1]);
        t.same(r.errors, {}, 'no errors');
        t.same(r.tally, { node: 10 }, 'the node answered');
        const ping = await sb.exec(client.ns, ['ping', `-${f}`, '-c', '3', '-i', '0.2', '-W', '1', gw(f)]);
        t.match(ping.stdout, / 0% packet loss/, 'ping the gateway');
      });
    }

    await t.test('the pods\' neighbour for other pods is the bridge (routed, not switched)', async (t) => {
      const { stdout: brLink } = await sb.ipNode('-o', 'link', 'show', sb.bridge);
      const brMac = /link\/ether ([0-9a-f:]+)/.exec(brLink)?.[1];
      const { stdout } = await sb.exec(client.ns, ['ip', 'neigh', 'show', 'dev', 'eth0']);
      for (const f of FAMILIES) {
        const line = stdout.split('\n').find((l) => l.startsWith(`${podIp(endpoints[1], f)} `));
        t.match(line ?? '', new RegExp(`lladdr ${brMac}`), `IPv${f} neighbour entry uses the bridge MAC`);
      }
    });
  });
}
