// podnetd's config: YAML with documented defaults, flags override the file, and every wrong value
// is a ConfigError naming its key, raised before podnetd touches anything. The example config
// shipped in systemd/ must load as is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseArgs, resolveConfig } from '../../src/daemon/args';
import { buildConfig, DEFAULTS } from '../../src/daemon/config';
import { ConfigError } from '../../src/daemon/errors';
import { runStatus } from '../../src/netns/exec';
import { repoRoot } from '../../src/sandbox/paths';
import { isRoot, requires } from '../helpers/privileged';

const base = { manifests: '/etc/podnet/manifests', podCIDRs: ['10.244.1.0/24'], serviceCIDRs: ['10.96.0.0/16'] };

t.test('defaults', async (t) => {
  const c = buildConfig(base, '/etc/podnet/podnetd.yaml');
  t.equal(c.bridge, 'podnet0');
  t.same(c.tun, { name: 'podnet-tun', queues: 1, persist: true });
  t.equal(c.stateFile, DEFAULTS.stateFile);
  t.equal(c.controlSocket, '/run/podnet/podnetd.sock');
  t.equal(c.metricsBindAddress, '127.0.0.1:10249', 'metrics on loopback by default');
  t.equal(c.healthzBindAddress, '127.0.0.1:10256');
  t.equal(c.logLevel, 'info');
  t.equal(c.allowHostNetns, false);
  t.ok(c.nodeName, 'node name defaults to $NODE_NAME or the hostname');
});

t.test('relative paths are relative to the config file', async (t) => {
  const c = buildConfig({ ...base, manifests: 'manifests', stateFile: 'state/flows' }, '/etc/podnet/podnetd.yaml');
  t.equal(c.manifests, '/etc/podnet/manifests');
  t.equal(c.stateFile, '/etc/podnet/state/flows');
});

t.test('errors name the key', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...base, tun: { queues: 0 } }, 'tun.queues', /integer in \[1, 64\]/],
    [{ ...base, tun: { name: 'a-name-that-is-too-long' } }, 'tun.name', /interface name/],
    [{ ...base, podCIDRs: ['10.244.1.0/33'] }, 'podCIDRs[0]', /not a CIDR/],
    [{ ...base, podCIDRs: ['10.244.1.0/24', '10.244.2.0/24'] }, 'podCIDRs[1]', /one per family/],
    [{ ...base, podCIDRs: [] }, 'podCIDRs', /required/],
    [{ ...base, metricsBindAddress: 'localhost' }, 'metricsBindAddress', /host:port/],
    [{ ...base, logLevel: 'loud' }, 'logLevel', /one of/],
    [{ ...base, engine: { flowCapacity: 'big' } }, 'engine.flowCapacity', /integer/],
    [{ ...base, engine: { timeouts: { tcpEstablishedSec: -1 } } }, 'engine.timeouts.tcpEstablishedSec', /integer/],
    [{ ...base, sync: { minIntervalMs: 5000, maxIntervalMs: 1000 } }, 'sync.minIntervalMs', /must not exceed/],
    [{ ...base, tunn: { name: 'x' } }, 'tunn', /unknown key/],
    [{ ...base, tun: { nmae: 'x' } }, 'tun.nmae', /unknown key/],
    [{ ...base, kubeconfig: '/root/.kube/config' }, 'kubeconfig', /only one source/],
    [{ podCIDRs: base.podCIDRs, serviceCIDRs: base.serviceCIDRs }, 'manifests', /no source/],
    [{ ...base, allowHostNetns: 'yes' }, 'allowHostNetns', /true or false/],
  ];
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST;
  t.teardown(() => { if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved; });
  for (const [raw, key, reason] of cases) {
    t.throws(() => buildConfig(raw, 'x.yaml'), { code: 'DAEMON_BAD_CONFIG', key, message: reason }, key);
  }
});

t.test('in-cluster: the API source is implied by KUBERNETES_SERVICE_HOST', async (t) => {
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
  t.teardown(() => { if (saved === undefined) delete process.env.KUBERNETES_SERVICE_HOST; else process.env.KUBERNETES_SERVICE_HOST = saved; });
  const c = buildConfig({ podCIDRs: base.podCIDRs, serviceCIDRs: base.serviceCIDRs });
  t.equal(c.kubeconfig, 'in-cluster');
});

t.test('flags override the file', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'podnetd.yaml');
  writeFileSync(file, 'manifests: m\npodCIDRs: [10.244.1.0/24]\nserviceCIDRs: [10.96.0.0/16]\ntun:\n  name: pn-tun\n  queues: 2\nlogLevel: warn\n');
  const c = resolveConfig(parseArgs(['--config', file, '--tun-queues', '4', '--log-level=debug', '--node-name', 'n1', '--metrics-bind-address', '']));
  t.equal(c.tun.queues, 4, 'flag wins');
  t.equal(c.tun.name, 'pn-tun', 'file value kept');
  t.equal(c.logLevel, 'debug');
  t.equal(c.nodeName, 'n1');
  t.equal(c.metricsBindAddress, '', 'empty disables');
  t.equal(c.manifests, path.join(dir, 'm'));
  t.throws(() => parseArgs(['--bogus']), { code: 'DAEMON_USAGE' });
  t.throws(() => resolveConfig(parseArgs(['--config', path.join(dir, 'missing.yaml')])), { code: 'DAEMON_BAD_CONFIG', key: '(file)' });
  writeFileSync(file, 'tun: [unclosed\n');
  t.throws(() => resolveConfig(parseArgs(['--config', file])), { code: 'DAEMON_BAD_CONFIG', key: '(syntax)' });
});

t.test('the example config in systemd/ loads', async (t) => {
  const c = resolveConfig(parseArgs(['--config', path.join(repoRoot(), 'systemd/podnetd.yaml')]));
  t.equal(c.allowHostNetns, true, 'a real node opts in to its own namespace');
  t.ok(c.manifests || c.kubeconfig, 'has a source');
});

t.test('a bad config fails before anything is touched (exit 1, coded line)', requires({ root: isRoot }), async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'manifests: /nonexistent\npodCIDRs: [10.244.1.0/24]\nserviceCIDRs: [10.96.0.0/16]\ntun: {queues: 100}\n');
  // In a throwaway anonymous namespace (unshare -n): should validation ever let it through, only
  // that namespace is touched (and the netns guard refuses it anyway).
  const r = await runStatus(null, ['unshare', '-n', process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', file]);
  t.equal(r.exitCode, 1);
  const line = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { code?: string; key?: string; msg?: string };
  t.equal(line.code, 'DAEMON_BAD_CONFIG');
  t.equal(line.key, 'tun.queues');
  t.ok(r.stdout.trim().split('\n').length === 1, 'one line, nothing else happened');
});

t.test('ConfigError is a DaemonError with a stable code', async (t) => {
  const e = new ConfigError('f', 'k', 'r');
  t.equal(e.code, 'DAEMON_BAD_CONFIG');
  t.match(e.message, /f: k: r/);
});
