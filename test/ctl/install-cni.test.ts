// `podnetctl install-cni` as an operator runs it (bin/podnetctl), into temporary directories
// only: never the real /opt/cni/bin or /etc/cni/net.d. The installed plugin answers VERSION like
// a runtime would call it, and the conflist it writes is one the plugin accepts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/cni/config';
import { requires } from '../helpers/privileged';

const REPO = path.resolve(__dirname, '../..');
const CTL = path.join(REPO, 'bin/podnetctl');
const SHIM = path.join(REPO, 'dist/cni/podnet');
const built = { 'built dist/ and the shim (npm run build; npm run build:cni-shim)': () => existsSync(path.join(REPO, 'dist/src/ctl/install-cni.js')) && existsSync(SHIM) };

function ctl(...args: string[]) {
  const r = spawnSync(process.execPath, [CTL, 'install-cni', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

t.test('podnetctl install-cni', requires(built), async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pninstall-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const bin = path.join(tmp, 'opt/cni/bin');
  const conf = path.join(tmp, 'etc/cni/net.d');
  const dirs = ['--bin-dir', bin, '--conf-dir', conf];
  const plugin = path.join(bin, 'podnet');
  const conflist = path.join(conf, '10-podnet.conflist');

  await t.test('fresh install: the plugin and a default conflist', async (t) => {
    const r = ctl(...dirs);
    t.equal(r.code, 0, r.err);
    t.match(r.out, `${plugin}: installed`);
    t.match(r.out, `${conflist}: written`);
    t.ok(readFileSync(plugin).equals(readFileSync(SHIM)), 'the shim, byte for byte');
    t.equal(statSync(plugin).mode & 0o777, 0o755, 'executable');
    const c = JSON.parse(readFileSync(conflist, 'utf8'));
    t.equal(c.name, 'podnet');
    t.equal(c.plugins[0].type, 'podnet');
    t.equal(c.plugins[0].antiSpoofing, true);
    // What a runtime hands the plugin: the list's version and name merged into the plugin's section.
    const parsed = parseConfig(Buffer.from(JSON.stringify({ cniVersion: c.cniVersion, name: c.name, ...c.plugins[0] })));
    t.equal(parsed.bridge, 'podnet0', 'the plugin accepts it');
    t.same((parsed.ipam as { rangeSets: unknown[] }).rangeSets, [], 'subnet from the node pod CIDR podnetd records');
  });

  await t.test('the installed plugin answers a runtime (VERSION, no podnetd: Node fallback)', async (t) => {
    const r = spawnSync(plugin, [], {
      input: '{"cniVersion":"1.0.0"}', encoding: 'utf8', timeout: 60_000,
      env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION', PODNET_CNI_SOCKET: path.join(tmp, 'no-server.sock') },
    });
    t.equal(r.status, 0, r.stderr);
    t.ok(JSON.parse(r.stdout).supportedVersions.includes('1.1.0'), r.stdout);
  });

  await t.test('idempotent; an existing conflist is kept, a different plugin needs --force', async (t) => {
    const again = ctl(...dirs);
    t.equal(again.code, 0, again.err);
    t.match(again.out, 'podnet: unchanged');
    t.match(again.out, 'conflist: kept');
    writeFileSync(conflist, '{"mine": true}\n');
    writeFileSync(plugin, 'some other build\n');
    const refused = ctl(...dirs);
    t.equal(refused.code, 1);
    t.match(refused.err, /exists and differs.*--force.*\[INSTALL_CNI_EXISTS\]/);
    t.equal(readFileSync(conflist, 'utf8'), '{"mine": true}\n', 'nothing touched');
    const forced = ctl(...dirs, '--force');
    t.equal(forced.code, 0, forced.err);
    t.match(forced.out, 'podnet: replaced');
    t.match(forced.out, 'conflist: replaced');
    t.ok(readFileSync(plugin).equals(readFileSync(SHIM)));
    t.equal(JSON.parse(readFileSync(conflist, 'utf8')).name, 'podnet');
  });

  await t.test('a config that sorts first is reported', async (t) => {
    writeFileSync(path.join(conf, '05-other.conflist'), '{}');
    const r = ctl(...dirs);
    t.equal(r.code, 0);
    t.match(r.out, /note: 05-other\.conflist sort\(s\) before 10-podnet\.conflist/);
    const j = spawnSync(process.execPath, [CTL, 'install-cni', '--json', ...dirs], { encoding: 'utf8' });
    t.same(JSON.parse(j.stdout).shadowedBy, ['05-other.conflist']);
  });

  await t.test('errors: usage (2), no shim (1)', async (t) => {
    t.equal(ctl('--bin-dir').code, 2, 'missing value');
    t.equal(ctl('--what').code, 2, 'unknown option');
    const r = ctl(...dirs, '--shim', path.join(tmp, 'nope'));
    t.equal(r.code, 1);
    t.match(r.err, /build it first.*\[INSTALL_CNI_NO_SHIM\]/);
  });
});
