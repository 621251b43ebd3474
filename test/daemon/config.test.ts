// podnetd's config: YAML with documented defaults, flags override the file, and every wrong value
// is a ConfigError naming its key, raised before podnetd touches anything. The example config
// shipped in systemd/ must load as is.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseArgs, resolveConfig } from '../../src/daemon/args';
import { buildConfig, DEFAULTS, restartKeys } from '../../src/daemon/config';
import { ConfigError } from '../../src/daemon/errors';
import { egressMasquerade, egressSources } from '../../src/external/controller';
import { runStatus } from '../../src/netns/exec';
import { repoRoot } from '../../src/sandbox/paths';
import { isRoot, requires } from '../helpers/privileged';

const base = { manifests: '/etc/podnet/manifests', podCIDRs: ['10.244.1.0/24'], serviceCIDRs: ['10.96.0.0/16'] };

t.test('defaults', async (t) => {
  const c = buildConfig(base, '/etc/podnet/podnetd.yaml');
  t.equal(c.bridge, 'podnet0');
  t.same(c.tun, { name: 'podnet-tun', queues: 1, busyPollUs: 50, persist: true, steering: 'cpu' });
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
    [{ ...base, tun: { busyPollUs: -1 } }, 'tun.busyPollUs', /integer in \[0, 10000\]/],
    [{ ...base, tun: { steering: 'rss' } }, 'tun.steering', /one of "cpu", "flow", got "rss"/],
    [{ ...base, tun: { steering: 1 } }, 'tun.steering', /one of "cpu", "flow", got 1/],
    [{ ...base, tun: { name: 'a-name-that-is-too-long' } }, 'tun.name', /interface name/],
    [{ ...base, podCIDRs: ['10.244.1.0/33'] }, 'podCIDRs[0]', /not a CIDR/],
    [{ ...base, podCIDRs: ['10.244.1.0/24', '10.244.2.0/24'] }, 'podCIDRs[1]', /one per family/],
    [{ tables: '/t.json', serviceCIDRs: base.serviceCIDRs, podCIDRs: [] }, 'podCIDRs', /required with tables/],
    [{ tables: '/t.json', podCIDRs: base.podCIDRs }, 'serviceCIDRs', /required with tables/],
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

t.test('podCIDRs and serviceCIDRs may be left out with a manifests or API source', async (t) => {
  const c = buildConfig({ manifests: '/etc/podnet/manifests' });
  t.same([c.podCIDRs, c.serviceCIDRs], [[], []], 'resolved at start (src/daemon/defaults.ts)');
  t.ok(c.external.uplinksAuto, 'uplinks auto');
  const em = buildConfig({ manifests: '/m', engine: { egressMasquerade: { enabled: true } } });
  t.ok(em.egressMasquerade.enabled, 'egress masquerade with auto uplinks and Node pod CIDRs');
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
  const c = resolveConfig(parseArgs(['--config', file, '--tun-queues', '4', '--tun-steering', 'flow', '--log-level=debug', '--node-name', 'n1', '--metrics-bind-address', '']));
  t.equal(c.tun.queues, 4, 'flag wins');
  t.equal(c.tun.steering, 'flow', 'steering by flag');
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

t.test('external and egressMasquerade: defaults', async (t) => {
  const c = buildConfig(base);
  t.same(c.external, { uplinks: [], uplinksAuto: true, nodePortAddresses: [], nodePortRange: [30000, 32767] }, 'uplinks picked at start (auto)');
  t.same(buildConfig({ ...base, external: { uplinks: 'auto' } }).external.uplinksAuto, true, '"auto" spelled out');
  t.same(buildConfig({ ...base, external: { uplinks: [] } }).external, { uplinks: [], uplinksAuto: false, nodePortAddresses: [], nodePortRange: [30000, 32767] }, '[]: nothing steered');
  t.equal(buildConfig({ tables: '/t.json', podCIDRs: base.podCIDRs, serviceCIDRs: base.serviceCIDRs }).external.uplinksAuto, false, 'tables: no auto uplinks (no Node objects)');
  t.same(c.egressMasquerade, { enabled: false, exemptCIDRs: [], portMin: 61000, portMax: 65535 }, 'off by default');
});

t.test('external and egressMasquerade: values are parsed and canonical', async (t) => {
  const c = buildConfig({
    ...base,
    external: { uplinks: ['eth0', 'eth1'], nodePortAddresses: ['192.168.1.7/24', 'FD00:0:0:0::/64', 'primary'], nodePortRange: '30000 - 30999' },
    engine: { egressMasquerade: { enabled: true, exemptCIDRs: ['10.0.0.0/8', 'fd00::/8'], sourceIPv4: '192.168.1.7', sourceIPv6: 'fd00::7', portMin: 40000, portMax: 49999 } },
  });
  t.same(c.external.uplinks, ['eth0', 'eth1']);
  t.same(c.external.nodePortAddresses, ['192.168.1.0/24', 'fd00::/64', 'primary'], 'CIDRs canonical, host bits cleared like kube-proxy');
  t.same(c.external.nodePortRange, [30000, 30999]);
  t.same(c.egressMasquerade, { enabled: true, exemptCIDRs: ['10.0.0.0/8', 'fd00::/8'], sourceIPv4: '192.168.1.7', sourceIPv6: 'fd00::7', portMin: 40000, portMax: 49999 });
  t.notOk('egressMasquerade' in c.engine, 'the engine option is built at start from the uplink addresses, not passed raw');
});

t.test('external and egressMasquerade: errors name the key', async (t) => {
  const up = { uplinks: ['eth0'] };
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...base, external: 'eth0' }, 'external', /mapping/],
    [{ ...base, external: { uplink: ['eth0'] } }, 'external.uplink', /unknown key/],
    [{ ...base, external: { uplinks: 'eth0' } }, 'external.uplinks', /list/],
    [{ ...base, external: { uplinks: ['eth0', 'way-too-long-name0'] } }, 'external.uplinks[1]', /interface name/],
    [{ ...base, external: { uplinks: ['eth0', 'eth0'] } }, 'external.uplinks[1]', /twice/],
    [{ ...base, external: { nodePortAddresses: ['192.168.1.7'] } }, 'external.nodePortAddresses[0]', /CIDR/],
    [{ ...base, external: { nodePortAddresses: ['10.0.0.0/8', '10.0.0.0/33'] } }, 'external.nodePortAddresses[1]', /prefix/],
    [{ ...base, external: { nodePortAddresses: [7] } }, 'external.nodePortAddresses[0]', /CIDR/],
    [{ ...base, external: { nodePortRange: '32767-30000' } }, 'external.nodePortRange', /low-high/],
    [{ ...base, external: { nodePortRange: 30000 } }, 'external.nodePortRange', /low-high/],
    [{ ...base, external: { nodePortRange: '0-100' } }, 'external.nodePortRange', /low-high/],
    [{ ...base, external: { nodePortRange: '30000-70000' } }, 'external.nodePortRange', /low-high/],
    [{ ...base, engine: { egressMasquerade: true } }, 'engine.egressMasquerade', /mapping/],
    [{ ...base, engine: { egressMasquerade: { enable: true } } }, 'engine.egressMasquerade.enable', /unknown key/],
    [{ ...base, external: up, engine: { egressMasquerade: { enabled: 'yes' } } }, 'engine.egressMasquerade.enabled', /true or false/],
    [{ ...base, external: { uplinks: [] }, engine: { egressMasquerade: { enabled: true } } }, 'engine.egressMasquerade.enabled', /needs external.uplinks/],
    [{ ...base, external: up, engine: { egressMasquerade: { exemptCIDRs: '10.0.0.0/8' } } }, 'engine.egressMasquerade.exemptCIDRs', /list/],
    [{ ...base, external: up, engine: { egressMasquerade: { exemptCIDRs: ['10.0.0.0/8', 'nope'] } } }, 'engine.egressMasquerade.exemptCIDRs[1]', /CIDR/],
    [{ ...base, external: up, engine: { egressMasquerade: { sourceIPv4: 'fd00::1' } } }, 'engine.egressMasquerade.sourceIPv4', /IPv4/],
    [{ ...base, external: up, engine: { egressMasquerade: { sourceIPv6: '10.0.0.1' } } }, 'engine.egressMasquerade.sourceIPv6', /IPv6/],
    [{ ...base, external: up, engine: { egressMasquerade: { portMin: 80 } } }, 'engine.egressMasquerade.portMin', /integer in \[1024, 65535\]/],
    [{ ...base, external: up, engine: { egressMasquerade: { portMax: 70000 } } }, 'engine.egressMasquerade.portMax', /integer/],
    [{ ...base, external: up, engine: { egressMasquerade: { portMin: 62000, portMax: 61000 } } }, 'engine.egressMasquerade.portMin', /must not exceed/],
    [{ ...base, external: up, engine: { egressMasquerade: { enabled: true, portMin: 32000, portMax: 40000 } } }, 'engine.egressMasquerade.portMin', /overlaps external.nodePortRange/],
  ];
  for (const [raw, key, reason] of cases) {
    t.throws(() => buildConfig(raw, 'x.yaml'), { code: 'DAEMON_BAD_CONFIG', key, message: reason }, key);
  }
});

t.test('engine.egressMasquerade becomes the engine option at start (src/external/controller.ts)', async (t) => {
  const cfg = (em: Record<string, unknown>) => buildConfig({ ...base, podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], serviceCIDRs: ['10.96.0.0/16'],
    external: { uplinks: ['eth0'] }, engine: { egressMasquerade: em } });
  const uplink = ['192.168.1.7', '192.168.1.8', 'fd00:1::7'];
  t.equal(egressMasquerade(cfg({}), uplink), undefined, 'off unless enabled');
  t.same(egressMasquerade(cfg({ enabled: true, exemptCIDRs: ['10.0.0.0/8'] }), uplink), {
    podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'],
    exemptCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64', '10.96.0.0/16', '10.0.0.0/8'],
    sourceIPv4: '192.168.1.7', sourceIPv6: 'fd00:1::7', portMin: 61000, portMax: 65535,
  }, 'pods and services always exempt; sources: the uplink primary address per family');
  t.same(egressMasquerade(cfg({ enabled: true, sourceIPv4: '192.168.1.8' }), ['fd00:1::7'])?.sourceIPv4, '192.168.1.8', 'configured source wins');
  const none = egressMasquerade(cfg({ enabled: true }), []);
  t.ok(none, 'no address yet: on, so the sources can follow the uplinks (podnetd warns)');
  t.equal(none?.sourceIPv4, undefined);
  t.equal(none?.sourceIPv6, undefined);
  t.same(egressSources(none!), {}, 'nothing to masquerade to until an uplink has an address');
  t.same(egressSources(egressMasquerade(cfg({ enabled: true }), uplink)!), { sourceIPv4: '192.168.1.7', sourceIPv6: 'fd00:1::7' });
});

t.test('external and egressMasquerade changes need a restart', async (t) => {
  const a = buildConfig({ ...base, external: { uplinks: ['eth0'] } });
  const b = buildConfig({ ...base, external: { uplinks: ['eth0'], nodePortRange: '30000-31000' } });
  const c = buildConfig({ ...base, external: { uplinks: ['eth0'] }, engine: { egressMasquerade: { enabled: true } } });
  t.same(restartKeys(a, b), ['external']);
  t.same(restartKeys(a, c), ['egressMasquerade']);
  t.same(restartKeys(a, a), []);
});

t.test('the example config in systemd/ documents every external key', async (t) => {
  const text = readFileSync(path.join(repoRoot(), 'systemd/podnetd.yaml'), 'utf8');
  for (const k of ['external:', 'uplinks:', 'nodePortAddresses:', 'nodePortRange:', 'egressMasquerade:', 'enabled:', 'exemptCIDRs:', 'sourceIPv4:', 'sourceIPv6:', 'portMin:', 'portMax:']) {
    t.match(text, k, `${k} documented`);
  }
});

t.test('ConfigError is a DaemonError with a stable code', async (t) => {
  const e = new ConfigError('f', 'k', 'r');
  t.equal(e.code, 'DAEMON_BAD_CONFIG');
  t.match(e.message, /f: k: r/);
});
