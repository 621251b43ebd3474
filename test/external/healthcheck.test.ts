// healthCheckNodePort servers: kube-proxy's body and status codes, counts updated in place,
// ports opened and closed as services come and go. Loopback only, no root.
import t from 'tap';
import http from 'node:http';
import { HealthCheckServers } from '../../src/external/healthcheck';

function get(port: number): Promise<{ status: number; body: unknown; weight: string | undefined }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(b), weight: res.headers['x-load-balancing-endpoint-weight'] as string | undefined }));
    }).on('error', reject);
  });
}

t.test('200 with local endpoints, 503 without, closed when gone', async (t) => {
  let healthy = true;
  const hc = new HealthCheckServers({ bindAddresses: ['127.0.0.1'], proxyHealthy: () => healthy });
  t.teardown(() => hc.close());
  const port = 30000 + Math.floor(Math.random() * 2000);
  await hc.update([{ namespace: 'default', name: 'web', port, localEndpoints: 2 }]);
  let r = await get(port);
  t.equal(r.status, 200);
  t.same(r.body, { service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
  t.equal(r.weight, '2');
  await hc.update([{ namespace: 'default', name: 'web', port, localEndpoints: 0 }]);
  r = await get(port);
  t.equal(r.status, 503);
  t.same(r.body, { service: { namespace: 'default', name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true });
  await hc.update([{ namespace: 'default', name: 'web', port, localEndpoints: 1 }]);
  healthy = false;
  r = await get(port);
  t.equal(r.status, 503, 'proxy unhealthy → 503 even with endpoints');
  t.same(hc.ports(), [port]);
  await hc.update([]);
  t.same(hc.ports(), []);
  await t.rejects(get(port), { code: 'ECONNREFUSED' });
});

t.test('a port in use is reported, the others still served', async (t) => {
  const hc = new HealthCheckServers({ bindAddresses: ['127.0.0.1'], onError: (e) => errors.push(e.code) });
  const errors: string[] = [];
  t.teardown(() => hc.close());
  const blocker = http.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => blocker.close());
  const busy = (blocker.address() as { port: number }).port;
  const free = busy === 65535 ? busy - 1 : busy + 1;
  await hc.update([{ namespace: 'a', name: 'x', port: busy, localEndpoints: 1 }, { namespace: 'a', name: 'y', port: free, localEndpoints: 1 }]);
  t.same(errors, ['HEALTHCHECK_LISTEN']);
  t.same(hc.ports(), [free]);
});
