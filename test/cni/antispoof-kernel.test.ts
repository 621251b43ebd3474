// Anti-spoofing from the kernel flow cache: pods added through podnetd's CNI server (the native
// shim forwarding to it) while podnetd runs with engine.fastPath get the cache's per-pod entry
// and tc program at ADD instead of the u32 filters. The lies of antispoof.test.ts (a foreign
// source address, ARP and NA claims, a VLAN priority tag, a foreign MAC) must not arrive, and
// the program counts them as spoof_drop. Before that, with a real engine and podnetd's own hook
// (fixtures/kernel-add.ts): the entry and the attachment are there, and no u32 filter, at the
// moment ADD's anti-spoofing step ends, before the pod's eth0 is up. Everything in namespaces
// of this test; the bpffs is mounted in its own directory and unmounted at the end.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { requires } from '../helpers/privileged';
import { fastPathNode, kernelChecks as checks, nsWithBpffs } from './fixtures/fast-path-node';
import { pings, podnetConf, REPO, sh } from './fixtures/helpers';
import { spoofTools } from './fixtures/spoof';

t.test('ADD with the kernel flow cache: entry and program before eth0 is up, no u32 filter', requires(checks), async (t) => {
  const { ns, bpffs } = nsWithBpffs(t);
  const host = ns.add('host');
  const pod = ns.add('p');
  const conf = podnetConf(path.join(ns.tmp, 'ipam'));
  const r = spawnSync('nsenter', [`--net=${ns.path(host)}`, process.execPath, path.join(REPO, 'dist/test/cni/fixtures/kernel-add.js'), bpffs, pod], {
    input: JSON.stringify(conf), encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'k1', CNI_NETNS: ns.path(pod), CNI_IFNAME: 'eth0', CNI_PATH: path.join(REPO, 'bin') },
  });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    exitCode: number; result: any; entryAfter: unknown; after: { eth0Flags: string[]; filters: string }; delExitCode: number; entryAfterDel: unknown;
    observed: { pod: { ifindex: number; name: string; mac: string }; eth0Flags: string[]; filters: string; entry: { mac: string; addresses: string[]; attached: boolean } };
  };
  t.equal(out.exitCode, 0, `ADD ${out.exitCode ? JSON.stringify(out.result) : ''}`);
  const o = out.observed;
  t.ok(o, 'the hook was called');
  t.notOk(o.eth0Flags.includes('UP'), `eth0 not up yet at that moment (${o.eth0Flags.join(',')})`);
  t.equal(o.filters.trim(), '', 'no u32 filter on the host veth');
  t.same(o.entry, { mac: out.result.interfaces[2].mac, addresses: ['10.244.1.2', 'fd00:10:244:1::2'], attached: true }, 'the entry and the attachment');
  t.same(out.entryAfter, o.entry, 'still there after ADD');
  t.ok(out.after.eth0Flags.includes('UP'), 'eth0 up after ADD');
  t.equal(out.after.filters.trim(), '', 'and still no filter');
  t.equal(spawnSync('ip', ['-n', host, 'link', 'show', 'podnet-drop']).status, 1, 'no u32 drop sink either');
  t.equal(out.delExitCode, 0, 'DEL');
  t.equal(out.entryAfterDel, null, 'DEL removed the entry');
});

t.test("anti-spoofing of pods added through podnetd's CNI server with the fast path on", requires(checks), async (t) => {
  const node = await fastPathNode(t, 'debug');
  if (!node) return;
  const { ns, host, podnetd: d, conf, call, add } = node;
  const [a, b, c] = ['a', 'b', 'c'].map((p) => ns.add(p));
  const ra = add('ctr-a', a); // 10.244.1.2, fd00:10:244:1::2
  const rb = add('ctr-b', b); // .3
  add('ctr-c', c); // .4
  const B4 = '10.244.1.3', B6 = 'fd00:10:244:1::3', C4 = '10.244.1.4', C6 = 'fd00:10:244:1::4';
  const vethA = ra.interfaces[1].name as string;
  const macA = ra.interfaces[2].mac as string;
  const macB = rb.interfaces[2].mac as string;
  const brMac = ra.interfaces[0].mac as string;
  const { py, linkLocal, hostNeigh, receive, spoofedSourcesStopped } = spoofTools(ns, host);
  const spoofDrops = async () => (await d.fastPath()).spoofDrops ?? 0;

  await t.test('ADD attached the program, no filters; the watch took the pods as known; CHECK passes', async (t) => {
    const s = await d.fastPath();
    t.equal(s.pods, 3, 'three pods');
    t.equal(s.attachedTo?.length, 3, 'the program on three veths');
    for (const r of [ra, rb]) {
      t.equal(sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'show', 'dev', r.interfaces[1].name, 'ingress']).trim(), '', `no u32 filter on ${r.interfaces[1].name}`);
    }
    t.equal(spawnSync('ip', ['-n', host, 'link', 'show', 'podnet-drop']).status, 1, 'no u32 drop sink');
    // One setLocalPod per pod: by ADD (the watch then adopts it), or by the watch when it saw
    // the veth's alias first (ADD then finds the pod known).
    // (podnetd's log reaches us asynchronously: wait for it a moment.)
    const sets = () => d.logs().split('\n').filter((l) => /"msg":"(CNI ADD: )?pod veth runs the kernel flow cache"/.test(l));
    for (let i = 0; i < 40 && sets().length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    t.equal(sets().length, 3, `one attach per pod (${sets().filter((l) => l.includes('CNI ADD')).length} by ADD)`);
    const ok = call('CHECK', 'ctr-a', a, { ...conf, prevResult: ra });
    t.equal(ok.code, 0, ok.stdout);
    const wrong = call('CHECK', 'ctr-a', a, { ...conf, prevResult: { ...ra, ips: [{ ...ra.ips[0], address: '10.244.1.9/24' }, ra.ips[1]] } });
    t.equal(wrong.code, 1, 'CHECK with other addresses fails');
    t.match(wrong.json?.msg, /kernel anti-spoofing entry has 10\.244\.1\.2, fd00:10:244:1::2, expected 10\.244\.1\.9/);
  });

  await t.test("the pod's own traffic passes, v4 and v6", async (t) => {
    const before = await spoofDrops();
    t.ok(pings(ns, a, B4), 'IPv4 a → b');
    t.ok(pings(ns, a, B6), 'IPv6 a → b');
    t.ok(pings(ns, b, '10.244.1.2'), 'IPv4 b → a');
    t.equal(await spoofDrops(), before, 'nothing of it dropped');
  });

  await t.test("a spoofed source (b's address) does not arrive, and is counted", async (t) => {
    const before = await spoofDrops();
    await spoofedSourcesStopped(t, a, '10.244.1.2', c, C4, C6, B4, B6);
    const n = (await spoofDrops()) - before;
    t.ok(n >= 20, `spoof_drop counted ${n}`);
    t.ok(pings(ns, a, C4), 'a still reaches c with its own address');
  });

  await t.test("ARP and NA claiming b's addresses do not move the node's neighbour entries", async (t) => {
    t.ok(sh('ip', ['netns', 'exec', host, 'ping', '-c1', '-W2', B4]).length > 0, 'node resolves b (v4)');
    t.ok(sh('ip', ['netns', 'exec', host, 'ping', '-c1', '-W2', B6]).length > 0, 'node resolves b (v6)');
    await new Promise((r) => setTimeout(r, 1300)); // past the 1 s locktime that guards ARP updates
    const before = await spoofDrops();
    py(a, ['arp', 'eth0', '2', B4, macA, '10.244.1.1', brMac, brMac]);
    py(a, ['arp', 'eth0', '1', B4, macA, B4, '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']);
    const llA = linkLocal(a);
    py(a, ['na', 'eth0', macA, '33:33:00:00:00:01', llA, 'ff02::1', B6]);
    py(a, ['na', 'eth0', macA, '33:33:00:00:00:01', llA, 'ff02::1', B6, 'dstopt']);
    await new Promise((r) => setTimeout(r, 300));
    t.match(hostNeigh(B4), new RegExp(macB), "IPv4: still b's MAC");
    t.match(hostNeigh(B6), new RegExp(macB), "IPv6: still b's MAC");
    t.ok((await spoofDrops()) - before >= 4, 'counted');
  });

  await t.test('a VLAN priority tag and a foreign MAC are no way around it', async (t) => {
    const before = await spoofDrops();
    const tagged = await receive(c, C4, 5006, () => py(a, ['vlan-udp', 'eth0', macA, brMac, B4, C4, '5006', '5']));
    t.same(tagged, [], 'tagged spoof: nothing received');
    const foreign = await receive(c, C4, 5009, () => py(a, ['eth-udp', 'eth0', macB, brMac, '10.244.1.2', C4, '5009', '5']));
    t.same(foreign, [], "b's MAC with a's own IP: nothing received");
    t.ok((await spoofDrops()) - before >= 10, 'counted');
  });

  await t.test('DEL: the veth, its attachment and its entry go', async (t) => {
    t.equal(call('DEL', 'ctr-a', a).code, 0);
    t.notMatch(sh('ip', ['-n', host, '-br', 'link']), new RegExp(vethA));
    const s = await d.fastPath();
    t.equal(s.pods, 2, 'two pods left');
    t.equal(s.attachedTo?.length, 2, 'two attachments left');
    t.equal(call('DEL', 'ctr-a', a).code, 0, 'DEL again');
  });
});
