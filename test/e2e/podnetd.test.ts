// podnetd's own contract: ready line, SIGHUP reload (and a bad tables file keeps the old table),
// SIGTERM exits 0, `--cleanup` removes the wiring it made, and it refuses an unnamed namespace.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { run, runStatus } from '../../src/netns/exec';
import { repoRoot } from '../../src/sandbox/paths';
import { Podnetd } from '../../src/sandbox';
import { HTTP_PORT, VIP4, serviceEnv, serviceTables } from './fixtures/helpers';

t.test('podnetd lifecycle', async (t) => {
  const env = await serviceEnv(t, { endpoints: 1 });
  if (!env) return;
  const { sb, podnetd, endpoints } = env;

  await t.test('wiring in the node namespace', async (t) => {
    const rules = (await sb.ipNode('rule')).stdout;
    t.match(rules, new RegExp(`from ${sb.podCIDR4.replace(/\./g, '\\.')} iif ${sb.bridge} lookup`), 'IPv4 pod rule');
    t.match((await sb.ipNode('-6', 'rule')).stdout, /iif podnet0 lookup/, 'IPv6 pod rule');
    t.match((await sb.ipNode('route')).stdout, new RegExp(`10\\.96\\.0\\.0/16 dev ${sb.tun}`), 'service CIDR routed into the TUN');
    const { stdout } = await sb.exec(sb.nodeNs, ['sysctl', '-n', 'net.ipv4.ip_forward', `net.ipv4.conf.${sb.bridge}.proxy_arp`,
      'net.ipv4.conf.all.rp_filter', `net.ipv6.conf.${sb.bridge}.proxy_ndp`, 'net.ipv4.tcp_early_demux']);
    t.same(stdout.trim().split('\n'), ['1', '1', '0', '1', '0'], 'sysctls');
  });

  await t.test('SIGHUP with a broken tables file keeps serving the previous version', async (t) => {
    writeFileSync(podnetd.tablesFile, '{not json');
    const from = podnetd.proc.lines.length;
    podnetd.proc.signal('SIGHUP');
    await podnetd.proc.waitForLine(/tables reload failed/, { from });
    const st = await podnetd.stats();
    t.ok(st.services.length > 0, 'service table still programmed');
    const r = await podnetd.setTables(serviceTables(endpoints));
    t.ok(r.version > 0, 'a good file applies again');
  });

  await t.test('refuses to run outside a named namespace', async (t) => {
    // A throwaway anonymous namespace (unshare -n): should the guard ever fail, only it is touched.
    const bin = path.join(repoRoot(), 'bin/podnetd');
    const r = await runStatus(null, ['unshare', '-n', process.execPath, bin, '--config', podnetd.configFile]);
    t.equal(r.exitCode, 1, 'exit 1');
    t.match(r.stdout, /"code":"NETNS_HOST_REFUSED"/, 'coded refusal');
  });

  await t.test('SIGTERM exits 0; a restart over the leftover wiring serves again', async (t) => {
    t.equal(await podnetd.stop(), 0, 'exit code 0');
    const again = await Podnetd.start(sb, serviceTables(endpoints));
    const r = await sb.agentRun<{ tally: Record<string, number>; errors: object }>(env.client.ns, 'http-burst', [VIP4, HTTP_PORT, 5, 1]);
    t.same(r.errors, {}, 'VIP answers after the restart');
    t.equal(r.tally[endpoints[0].name], 5, 'from the endpoint');
    t.equal(await again.stop(), 0, 'exit code 0 again');
  });

  await t.test('--cleanup unwires', async (t) => {
    const bin = path.join(repoRoot(), 'bin/podnetd');
    await run(sb.nodeNs, [process.execPath, bin, '--config', podnetd.configFile, '--cleanup']);
    t.notMatch((await sb.ipNode('rule')).stdout, /iif podnet0/, 'pod rule gone');
    t.match((await sb.ipNode('rule')).stdout, /^0:\s+from all lookup local/m, 'local rule back at 0');
    t.notMatch((await sb.ipNode('link')).stdout, /podnet0:/, 'bridge gone');
  });
});
