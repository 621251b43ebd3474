// `podnetctl sandbox up|status|exec|down` as a newcomer would run it: up builds a node with pods
// and a podnetd serving the Service "web", exec reaches the VIP from the client pod, down removes
// every namespace the sandbox made. A unique --name per run keeps parallel runs apart.
import path from 'node:path';
import t from 'tap';
import { runStatus } from '../../src/netns/exec';
import { cniAvailable } from '../../src/sandbox';
import { listNetns } from '../../src/sandbox/naming';
import { repoRoot } from '../../src/sandbox/paths';
import { isRoot, requires } from '../helpers/privileged';
import { daemonEnv } from '../daemon/fixtures';

const CTL = path.join(repoRoot(), 'bin/podnetctl');

function ctl(...args: string[]) {
  return runStatus(null, [process.execPath, CTL, ...args], { timeoutMs: 120_000, env: daemonEnv() });
}

t.test('podnetctl sandbox', requires({ root: isRoot }), async (t) => {
  const name = `t${process.pid}`;
  t.teardown(async () => { await ctl('sandbox', 'down', '--name', name); });
  const up = await ctl('sandbox', 'up', '--name', name, '--pods', '2', '--json');
  t.equal(up.exitCode, 0, `up: ${up.stderr.slice(-1500)}`);
  const state = JSON.parse(up.stdout) as { id: string; cni: boolean; socket: string; pods: { name: string; ip4: string }[]; vips: string[] };
  t.equal(state.cni, cniAvailable(), state.cni ? 'pods made by the podnet CNI plugin' : 'pods made by hand (CNI plugin not built)');
  t.same(state.pods.map((p) => p.name), ['client', 'web1', 'web2']);
  t.ok(listNetns().some((n) => n === `${state.id}-node`), 'node namespace exists');

  const st = await ctl('sandbox', 'status', '--name', name);
  t.equal(st.exitCode, 0);
  t.match(st.stdout, /is up/);

  const answers = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const r = await ctl('sandbox', 'exec', '--name', name, 'client', '--', 'curl', '-s', '--max-time', '5', `http://${state.vips[0]}/`);
    t.equal(r.exitCode, 0, 'curl through the VIP');
    answers.add(r.stdout.trim());
  }
  t.ok([...answers].every((a) => a === 'web1' || a === 'web2'), `answered by the web pods: ${[...answers].join(',')}`);
  const svc = await ctl('--socket', state.socket, '--json', 'services');
  t.equal((JSON.parse(svc.stdout) as { services: unknown[] }).services.length, 2, 'podnetctl reaches its podnetd');
  const bad = await ctl('sandbox', 'exec', '--name', name, 'nosuchpod', '--', 'true');
  t.equal(bad.exitCode, 1, 'unknown pod');

  const down = await ctl('sandbox', 'down', '--name', name);
  t.equal(down.exitCode, 0);
  t.same(listNetns().filter((n) => n.startsWith(`${state.id}-`)), [], 'every namespace of the sandbox is gone');
  t.equal((await ctl('sandbox', 'status', '--name', name)).exitCode, 1, 'status: not up');
});
