// `antiSpoofing: false` with the kernel flow cache on: podnetd (engine.fastPath) follows every
// pod of the bridge and runs its tc program on each veth, but a pod whose network config opted
// out (its host veth's alias says antispoof=off, written by ADD) gets no anti-spoofing entry,
// so the program lets its lies through, as the u32 form does for such a pod
// (antispoof.test.ts); it is still a local pod of the cache, and its flows are cached. A
// default pod on the same bridge still cannot lie, and the token added to (then taken from) its
// alias deletes (then restores) its entry. Everything in namespaces of this test; the
// bpffs is mounted in its own directory and unmounted at the end.
import t from 'tap';
import { requires } from '../helpers/privileged';
import { fastPathNode, kernelChecks as checks } from './fixtures/fast-path-node';
import { pings, sh } from './fixtures/helpers';
import { spoofTools } from './fixtures/spoof';

t.test('a pod with antiSpoofing false is cached but not policed by the kernel flow cache', requires(checks), async (t) => {
  const node = await fastPathNode(t);
  if (!node) return;
  const { ns, host, podnetd: d, conf, call, add } = node;
  const off = { ...conf, antiSpoofing: false };
  const [a, c, o] = ['a', 'c', 'o'].map((p) => ns.add(p));
  const rA = add('ctr-a', a, conf); // 10.244.1.2, fd00:10:244:1::2: anti-spoofing (the default)
  add('ctr-c', c, conf); // .3: the receiver
  const ro = add('ctr-o', o, off); // .4: opted out
  const A4 = '10.244.1.2', A6 = 'fd00:10:244:1::2', C4 = '10.244.1.3', C6 = 'fd00:10:244:1::3', O4 = '10.244.1.4';
  const vethO = ro.interfaces[1].name as string;
  const vethA = rA.interfaces[1].name as string;
  const ifindexO = Number(/^(\d+):/.exec(sh('ip', ['-n', host, '-o', 'link', 'show', vethO]))![1]);
  const { py, receive, spoofedSourcesStopped } = spoofTools(ns, host);

  await t.test("ADD recorded the opt-out; the watch attached the program to the pod's veth", async (t) => {
    t.match(sh('ip', ['-n', host, '-o', 'link', 'show', vethO]), /alias podnet: 10\.244\.1\.4 fd00:10:244:1::4 mac=\S+ antispoof=off/, 'the alias says antispoof=off');
    let s = await d.fastPath();
    for (let i = 0; i < 50 && !(s.pods === 3 && s.attachedTo?.includes(ifindexO)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await d.fastPath();
    }
    t.equal(s.pods, 3, 'three local pods, the opted-out one among them');
    t.ok(s.attachedTo?.includes(ifindexO), `the program runs on ${vethO} (${JSON.stringify(s.attachedTo)})`);
    t.equal(sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'show', 'dev', vethO, 'ingress']).trim(), '', 'and no u32 filter');
    const chk = call('CHECK', 'ctr-o', o, { ...off, prevResult: ro });
    t.equal(chk.code, 0, `CHECK of the opted-out pod: ${chk.stdout}`);
  });

  await t.test("the opted-out pod's lies arrive, uncounted; the default pod's do not", async (t) => {
    const drops0 = (await d.fastPath()).spoofDrops ?? 0;
    const lie4 = await receive(c, C4, 5004, () => py(o, ['udp-send', A4, C4, '5004', '5']));
    t.ok(lie4.includes(A4), `IPv4 lie from the opted-out pod arrives (${lie4.join(', ')})`);
    const lie6 = await receive(c, C6, 5005, () => py(o, ['udp-send', A6, C6, '5005', '5']));
    t.ok(lie6.includes(A6), `and the IPv6 one (${lie6.join(', ')})`);
    t.equal((await d.fastPath()).spoofDrops ?? 0, drops0, 'no spoof_drop counted for them');
    await spoofedSourcesStopped(t, a, A4, c, C4, C6, O4, 'fd00:10:244:1::4');
    t.ok(((await d.fastPath()).spoofDrops ?? 0) - drops0 >= 20, 'the default pod lying is dropped and counted');
  });

  await t.test("the opted-out pod's flows are cached", async (t) => {
    const before = await d.fastPath();
    // 100 datagrams, 10 ms apart, into a receiver that listens 3 s (on a loaded node the last
    // ones may come after it stops listening: most of them must arrive).
    const got = await receive(c, C4, 5006, () => py(o, ['udp-send', O4, C4, '5006', '100']));
    t.ok(got.length >= 80 && got.every((s) => s === O4), `its own datagrams arrive (${got.length})`);
    const after = await d.fastPath();
    const hits = (after.hits ?? 0) - (before.hits ?? 0);
    t.ok(hits >= 80, `${hits} of them forwarded by the program (installs ${before.installs} → ${after.installs})`);
    t.ok(pings(ns, o, C4), 'ping o → c');
  });

  await t.test("an alias that changes its mind: the watch deletes the stale entry, then writes it back", async (t) => {
    const ra = JSON.parse(sh('ip', ['-n', host, '-j', 'link', 'show', vethA]))[0] as { ifalias: string };
    const lieArrives = async (port: number) => (await receive(c, C4, port, () => py(a, ['udp-send', O4, C4, String(port), '5']))).includes(O4);
    t.notOk(await lieArrives(5007), 'a (default) cannot lie');
    sh('ip', ['-n', host, 'link', 'set', vethA, 'alias', `${ra.ifalias} antispoof=off`]);
    await new Promise((r) => setTimeout(r, 500)); // the watch's debounce and pass
    t.ok(await lieArrives(5008), "with antispoof=off in its alias a's lie arrives: no entry left");
    sh('ip', ['-n', host, 'link', 'set', vethA, 'alias', ra.ifalias]);
    await new Promise((r) => setTimeout(r, 500));
    t.notOk(await lieArrives(5009), 'the token gone: policed again');
    t.equal(call('CHECK', 'ctr-a', a, { ...conf, prevResult: rA }).code, 0, "CHECK of a: podnetd's entry is back");
  });

  await t.test('DEL of the opted-out pod', async (t) => {
    t.equal(call('DEL', 'ctr-o', o, off).code, 0);
    const s = await d.fastPath();
    t.equal(s.pods, 2, 'two pods left');
    t.notOk(s.attachedTo?.includes(ifindexO), 'its attachment went');
  });
});
