// podnetd --kubeconfig: the API source end to end. The fake list+watch API server
// (test/helpers/fake-apiserver.ts) listens on the test process's loopback; podnetd runs in the sandbox's
// node namespace and reaches it as http://127.0.0.1:6443 through socat (node namespace) and a
// unix-socket relay (this process): no traffic leaves loopback and the socket file. The Service
// and its EndpointSlice come from the API, traffic flows, an EndpointSlice update moves it,
// and an API outage keeps the last-known state programmed (and /healthz green). Without an API
// at start, podnetd is alive but not healthy, and gives up after sync.firstSyncTimeoutMs.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { repoRoot } from '../../src/sandbox/paths';
import { Podnetd, serviceObjects, type Pod } from '../../src/sandbox';
import { FakeApiServer, SERVICES, SLICES } from '../helpers/fake-apiserver';
import { apiInNode } from '../helpers/api-in-node';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { daemonEnv } from './fixtures';
import { clientAndEndpoints, sandboxFor } from '../helpers/sandbox';

const VIP = '10.96.0.50';

function objects(eps: Pod[]) {
  return serviceObjects({ name: 'api-web', namespace: 'shop', clusterIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: 8080 }], endpoints: eps.map((pod) => ({ pod })) });
}

t.test('podnetd on the Kubernetes API', requires({ root: isRoot, socat: () => haveCommand('socat') }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const { client, eps } = await clientAndEndpoints(sb, 2, (p) => sb.serve(p, 'http-server', 8080, p.name));

  const api = new FakeApiServer();
  const [svc, slice] = objects(eps);
  api.put(SERVICES, svc);
  api.put(SLICES, slice);
  await api.listen();
  t.teardown(() => api.close());

  const kubeconfig = await apiInNode(t, sb, api.port);
  const podnetd = await Podnetd.startManifests(sb, { env: daemonEnv(), config: { manifests: null, kubeconfig } });

  const st = await podnetd.status();
  t.equal(st.podnetd.source, `kubeconfig:${kubeconfig}`);
  t.equal(st.sync.servicePorts, 1, 'READY only after the listed objects were programmed');
  const r = await sb.agentRun<{ tally: Record<string, number>; errors: object }>(client.ns, 'http-burst', [VIP, 80, 20, 2]);
  t.same(r.errors, {}, 'traffic through the VIP the API defined');
  t.equal((r.tally.ep1 ?? 0) + (r.tally.ep2 ?? 0), 20);

  const [, slice1] = objects([eps[0]]);
  api.put(SLICES, slice1);
  await podnetd.waitForServices((s) => s.services[0]?.backends.length === 1);
  const r2 = await sb.agentRun<{ tally: Record<string, number> }>(client.ns, 'http-burst', [VIP, 80, 10, 2]);
  t.same(r2.tally, { ep1: 10 }, 'an EndpointSlice update from the watch moves traffic');

  await api.close();
  await new Promise((res) => setTimeout(res, 500));
  const r3 = await sb.agentRun<{ tally: Record<string, number> }>(client.ns, 'http-burst', [VIP, 80, 5, 1]);
  t.same(r3.tally, { ep1: 5 }, 'API gone: the last-known state keeps serving');
  t.ok((await podnetd.status()).podnetd.healthy, 'and podnetd stays healthy');
  t.equal(await podnetd.stop(), 0);

  await t.test('no API at start: /livez 200, /healthz 503, then exit 1 on the first-sync timeout', async (t) => {
    const cfgFile = path.join(sb.dir, 'noapi.yaml');
    writeFileSync(cfgFile, stringify({ ...Podnetd.config(sb, 'manifests'), manifests: null, kubeconfig, sync: { firstSyncTimeoutMs: 4000 } }));
    const proc = await sb.spawn(sb.nodeNs, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', cfgFile], { env: daemonEnv() });
    await proc.waitForLine(/control socket listening/);
    const code = async (p: string) => Number((await sb.exec(sb.nodeNs, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:10256${p}`])).stdout);
    t.equal(await code('/livez'), 200, 'alive while waiting for the API');
    t.equal(await code('/healthz'), 503, 'not healthy before the first sync');
    await proc.exited;
    t.equal(proc.exitCode, 1);
    t.match(proc.lines.join('\n'), /"code":"DAEMON_FIRST_SYNC_TIMEOUT"/);
  });
});
