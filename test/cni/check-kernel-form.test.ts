// CHECK without podnetd of pods whose anti-spoofing is in the kernel flow cache's form: the
// pods are added as podnetd's CNI server adds them with the fast path on (fixtures/
// kernel-attach.ts: a real engine, podnetd's hook), one with the program attached by tcx, one
// in clsact mode; the engine then exits, the attachments stay pinned. The standalone plugin's
// CHECK finds no u32 filter on their veths and must accept the program instead (clsact: the
// cls_bpf filter read over rtnetlink; tcx: the loader's pin), saying in its log what it could
// not verify. A veth with neither form still fails, as does a u32 veth that lost its filters.
// Everything in namespaces of this test; the bpffs is mounted in its own directory and
// unmounted at the end.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { haveCommand, requires } from '../helpers/privileged';
import { nsWithBpffs } from './fixtures/fast-path-node';
import { podnetConf, REPO, rootChecks, runPlugin, sh } from './fixtures/helpers';

const checks = { ...rootChecks, 'tc (iproute2)': () => haveCommand('tc') };

t.test('standalone CHECK of the kernel flow cache form', requires(checks), async (t) => {
  const { ns, bpffs } = nsWithBpffs(t);
  const host = ns.add('host');
  const conf = podnetConf(path.join(ns.tmp, 'ipam'));
  const env = (pod: string, id: string, command: string) => ({
    PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: ns.path(pod), CNI_IFNAME: 'eth0', CNI_PATH: path.join(REPO, 'bin'),
  });
  /** ADD through the engine's hook (kernel form), in `mode`; the attachment outlives the engine. */
  const kernelAdd = (id: string, pod: string, mode: 'tcx' | 'clsact') => {
    const r = spawnSync('nsenter', [`--net=${ns.path(host)}`, process.execPath, path.join(REPO, 'dist/test/cni/fixtures/kernel-attach.js'), bpffs, mode], {
      input: JSON.stringify(conf), encoding: 'utf8', timeout: 60_000, env: env(pod, id, 'ADD'),
    });
    if (r.status !== 0) throw new Error(`kernel ADD ${id}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { exitCode: number; result: any; attachMode: string };
    if (out.exitCode !== 0) throw new Error(`kernel ADD ${id}: ${JSON.stringify(out.result)}`);
    return out;
  };
  const check = (id: string, pod: string, prevResult: unknown) => runPlugin(
    { command: 'CHECK', containerId: id, netns: ns.path(pod), ifname: 'eth0', hostNs: host, extraEnv: { PODNET_BPFFS: bpffs, PODNET_CNI_LOG: 'warn' } },
    { ...conf, prevResult });
  const [a, b, c] = ['a', 'b', 'c'].map((p) => ns.add(p));

  const ka = kernelAdd('ctr-a', a, 'tcx');
  const kb = kernelAdd('ctr-b', b, 'clsact');
  const vethA = ka.result.interfaces[1].name as string;
  const vethB = kb.result.interfaces[1].name as string;
  const filters = (veth: string) => sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'show', 'dev', veth, 'ingress']);

  await t.test('tcx: no filter on the veth, CHECK accepts the pinned link and says what it did not verify', async (t) => {
    if (ka.attachMode !== 'tcx') { t.comment(`this kernel attaches by ${ka.attachMode}: no tcx to check`); return; }
    t.equal(filters(vethA).trim(), '', 'no tc filter (tcx is not one)');
    const r = check('ctr-a', a, ka.result);
    t.equal(r.code, 0, `CHECK: ${r.stdout}${r.stderr}`);
    t.match(r.stderr, /tcx link pinned at .*tcx_\d+/, 'the log names the evidence');
    t.match(r.stderr, /not verified/, 'and says the entry is not verified');
    t.match(r.stderr, /podnet_pods map/);
  });

  await t.test('clsact: CHECK accepts the podnet_fastpath cls_bpf filter read over rtnetlink', async (t) => {
    t.equal(kb.attachMode, 'clsact');
    t.match(filters(vethB), /bpf .*podnet_fastpath/, 'tc sees the program');
    const r = check('ctr-b', b, kb.result);
    t.equal(r.code, 0, `CHECK: ${r.stdout}${r.stderr}`);
    t.match(r.stderr, /cls_bpf filter podnet_fastpath:\[\d+\] \(pref \d+\) on the clsact ingress/);
    t.match(r.stderr, /podnet_pods map/, 'the entry is named as unverified');
  });

  await t.test('the program gone: CHECK fails, naming both forms', async (t) => {
    sh('ip', ['netns', 'exec', host, 'tc', 'qdisc', 'del', 'dev', vethB, 'clsact']);
    const rb = check('ctr-b', b, kb.result);
    t.equal(rb.code, 1, 'clsact filter deleted');
    t.match(rb.json?.msg, new RegExp(`${vethB}: no anti-spoofing: no u32 filter .* no kernel flow cache program`));
    if (ka.attachMode === 'tcx') {
      const pinDir = path.join(bpffs, 'podnet', readdirSync(path.join(bpffs, 'podnet'))[0]);
      for (const f of readdirSync(pinDir).filter((n) => n.startsWith('tcx_'))) rmSync(path.join(pinDir, f)); // the links go with their pins
      const ra = check('ctr-a', a, ka.result);
      t.equal(ra.code, 1, 'tcx link unpinned');
      t.match(ra.json?.msg, /no pinned tcx link under/);
    }
  });

  await t.test('u32 form: CHECK as before; a veth that lost every filter fails', async (t) => {
    const add = runPlugin({ command: 'ADD', containerId: 'ctr-c', netns: ns.path(c), ifname: 'eth0', hostNs: host }, conf);
    t.equal(add.code, 0, add.stdout);
    const vethC = add.json.interfaces[1].name as string;
    t.equal(check('ctr-c', c, add.json).code, 0, 'CHECK with the filters');
    sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'del', 'dev', vethC, 'ingress', 'pref', '30199']);
    const one = check('ctr-c', c, add.json);
    t.equal(one.code, 1);
    t.match(one.json?.msg, /pref 30199 .*missing/, 'one filter missing: the u32 diff');
    sh('ip', ['netns', 'exec', host, 'tc', 'qdisc', 'del', 'dev', vethC, 'clsact']);
    const none = check('ctr-c', c, add.json);
    t.equal(none.code, 1);
    t.match(none.json?.msg, /no anti-spoofing/, 'none left');
  });
});
