// systemd/podnetd.service: `systemd-analyze verify` must have nothing to say about it (it exits 0
// even on unknown keys, so its stderr is what counts), and the unit keeps its lifecycle (notify,
// watchdog, restart, reload, preserved runtime directory) and hardening properties. Only
// verified: the unit is never installed or started on the test machine.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { runStatus } from '../../src/netns/exec';
import { repoRoot } from '../../src/sandbox/paths';
import { haveCommand, requires } from '../helpers/privileged';

const UNIT = path.join(repoRoot(), 'systemd/podnetd.service');

async function verify(file: string): Promise<{ exitCode: number; complaints: string[] }> {
  const r = await runStatus(null, ['systemd-analyze', 'verify', '--man=no', file], { env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
  const name = path.basename(file);
  return { exitCode: r.exitCode, complaints: `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(name)) };
}

t.test('systemd-analyze verify has nothing to say', requires({ 'systemd-analyze': () => haveCommand('systemd-analyze') }), async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // ExecStart names the installed /opt/podnet/bin/podnetd, which verify wants to find executable:
  // the copy points at a stand-in under the temp dir (test/package installs the real one).
  const stub = path.join(dir, 'opt/podnet/bin/podnetd');
  mkdirSync(path.dirname(stub), { recursive: true });
  writeFileSync(stub, '#!/bin/sh\n', { mode: 0o755 });
  const unit = readFileSync(UNIT, 'utf8').replaceAll('/opt/podnet/', `${dir}/opt/podnet/`);
  const copy = path.join(dir, 'podnetd.service');
  writeFileSync(copy, unit);
  const r = await verify(copy);
  t.equal(r.exitCode, 0, 'exit 0');
  t.same(r.complaints, [], 'no warnings about the unit');

  // The check can fail: a typo in a copy is reported.
  const bad = path.join(dir, 'podnetd-typo.service');
  writeFileSync(bad, unit.replace('Type=notify', 'Type=notfy'));
  t.ok((await verify(bad)).complaints.length > 0, 'a broken copy is reported');
});

t.test('the unit keeps its lifecycle and hardening properties', async (t) => {
  const u = readFileSync(UNIT, 'utf8');
  const has = (line: string) => new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').test(u);
  for (const line of ['Type=notify', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_BPF',
    'RuntimeDirectory=podnet', 'RuntimeDirectoryPreserve=yes', 'ReadWritePaths=/run/podnet /sys/fs/bpf', 'SystemCallFilter=bpf', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    t.ok(has(line), line);
  }
  t.match(u, /^WatchdogSec=\d+s$/m, 'WatchdogSec');
  t.match(u, /^ExecStart=\/opt\/podnet\/bin\/podnetd --config \/etc\/podnet\/podnetd\.yaml$/m, 'ExecStart: the packaged launcher with the config');
});
