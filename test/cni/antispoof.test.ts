// Anti-spoofing for real: the plugin installs tc filters on each pod's host veth
// (src/node/antispoof.ts); pods on the bridge then lie in every way the issue names, and the
// lies must not arrive (a receiver in another pod, the node's neighbour cache) while the drop
// counters rise. Pod "d" is attached with antiSpoofing false and tells the same lies as a
// control: they do arrive from it, which proves each check can see a lie that got through.
// The node namespace here is a test namespace ("host"); no podnetd, so pod-to-pod traffic is
// routed by that namespace's kernel, as in e2e.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { antispoofRules, parseFilterShow, parseStats, tcFilterArgs, type AntispoofStats } from '../../src/node/antispoof';
import { haveCommand, requires } from '../helpers/privileged';
import { NsSet, pings, podnetConf, REPO, rootChecks, runPlugin, sh } from './fixtures/helpers';
import { SPOOF, spoofTools } from './fixtures/spoof';

/**
 * antispoofStats as podnetd runs it (rtnetlink dumps, in its own namespace): the compiled module
 * in a child inside node namespace `ns`, since this process cannot enter it.
 */
function statsIn(ns: string, veths?: string[]): AntispoofStats[] {
  const mod = JSON.stringify(path.join(REPO, 'dist/src/node/antispoof.js'));
  const js = `require(${mod}).antispoofStats(${veths ? JSON.stringify(veths) : ''}).then((s) => process.stdout.write(JSON.stringify(s)))`;
  return JSON.parse(sh('ip', ['netns', 'exec', ns, process.execPath, '-e', js])) as AntispoofStats[];
}

const checks = { ...rootChecks, python3: () => haveCommand('python3'), 'tc (iproute2)': () => haveCommand('tc') };

t.test('anti-spoofing on the pod veth', requires(checks), async (t) => {
  const ns = new NsSet();
  t.teardown(() => ns.cleanup());
  const host = ns.add('host');
  sh('ip', ['netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const conf = podnetConf(path.join(ns.tmp, 'ipam'));
  const add = (id: string, pod: string, c: object = conf) => {
    const r = runPlugin({ command: 'ADD', containerId: id, netns: ns.path(pod), ifname: 'eth0', hostNs: host }, c);
    if (r.code !== 0) throw new Error(`ADD ${id}: ${r.stdout}${r.stderr}`);
    return r.json;
  };
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((p) => ns.add(p));
  const ra = add('ctr-a', a); // 10.244.1.2, fd00:10:244:1::2
  const rb = add('ctr-b', b); // .3
  add('ctr-c', c); // .4
  const rd = add('ctr-d', d, { ...conf, antiSpoofing: false }); // .5, the control
  const B4 = '10.244.1.3', B6 = 'fd00:10:244:1::3', C4 = '10.244.1.4', C6 = 'fd00:10:244:1::4';
  const vethA = ra.interfaces[1].name as string;
  const vethD = rd.interfaces[1].name as string;
  const macA = ra.interfaces[2].mac as string;
  const macB = rb.interfaces[2].mac as string;
  const macD = rd.interfaces[2].mac as string;
  const brMac = ra.interfaces[0].mac as string;
  /** vethA's counters read over netlink; they must equal what `tc -s -j filter show` reports. */
  const statsA = async (): Promise<AntispoofStats> => {
    const [nl] = statsIn(host, [vethA]);
    const tc = parseStats(vethA, sh('ip', ['netns', 'exec', host, 'tc', '-s', '-j', 'filter', 'show', 'dev', vethA, 'ingress']));
    if (JSON.stringify(nl) !== JSON.stringify(tc)) throw new Error(`netlink ${JSON.stringify(nl)} != tc ${JSON.stringify(tc)}`);
    return nl;
  };
  const { py, linkLocal, hostNeigh, receive, spoofedSourcesStopped } = spoofTools(ns, host);
  // A control (the pod without anti-spoofing) repeats its lie for a while: on a loaded node one
  // can land inside the neighbour entry's locktime.
  const lieUntilMoved = async (ip: string, mac: string, lie: () => unknown) => {
    for (let i = 0; i < 10 && !new RegExp(mac).test(hostNeigh(ip)); i++) {
      lie();
      await new Promise((r) => setTimeout(r, 300));
    }
  };

  await t.test('ADD installs the filters; CHECK sees them', async (t) => {
    const installed = parseFilterShow(sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'show', 'dev', vethA, 'ingress']));
    const prefs = new Set(installed.map((f) => f.pref));
    for (const p of [30000, 30019, 30100, 30199, 30200, 30219, 30300, 30399, 30900]) t.ok(prefs.has(p), `pref ${p}`);
    t.ok(installed.filter((f) => f.redirectTo === 'podnet-drop').length >= 6, 'drops redirect to the sink');
    t.match(sh('ip', ['-n', host, 'link', 'show', 'podnet-drop']), /state DOWN/, 'the sink exists and is down');
    t.equal(sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'show', 'dev', vethD, 'ingress']).trim(), '', 'antiSpoofing false: nothing on the veth');
    const ok = runPlugin({ command: 'CHECK', containerId: 'ctr-a', netns: ns.path(a), ifname: 'eth0', hostNs: host }, { ...conf, prevResult: ra });
    t.equal(ok.code, 0, ok.stdout);
  });

  await t.test("the pod's own traffic passes: ping and TCP, v4 and v6", async (t) => {
    t.ok(pings(ns, a, B4), 'IPv4 a → b');
    t.ok(pings(ns, a, B6), 'IPv6 a → b');
    t.ok(pings(ns, b, '10.244.1.2'), 'IPv4 b → a (replies from a pass)');
    // c's answers are routed back out of the bridge they came in by: a node's ICMPv6 redirect
    // would teach c a's own MAC, which isolated ports never deliver to (the plugin makes pods
    // ignore redirects), and the connection would hang.
    const tcpOnce = async (dst: string, port: number) => {
      const server = spawn('ip', ['netns', 'exec', c, 'python3', SPOOF, 'tcp-serve', dst, String(port)]);
      await new Promise((r) => server.stdout.once('data', r));
      const ok = ns.ok(a, ['python3', SPOOF, 'tcp-check', dst, String(port)]);
      if (!ok) server.kill();
      await new Promise((r) => server.once('close', r));
      return ok;
    };
    for (const [dst, port] of [[C4, 7001], [C6, 7002]] as const) {
      const ok = await tcpOnce(dst, port);
      t.ok(ok, `TCP a → c ${dst}`);
      if (!ok) {
        const show = (n: string, ...a: string[]) => { try { return sh('ip', ['-n', n, ...a]); } catch (e) { return (e as Error).message; } };
        t.comment(`c: ${show(c, 'addr')}\nc neigh: ${show(c, '-6', 'neigh')}\nc route: ${show(c, '-6', 'route')}\nhost neigh: ${show(host, '-6', 'neigh')}\nhost route: ${show(host, '-6', 'route')}\na neigh: ${show(a, '-6', 'neigh')}`);
        const r = spawnSync('ip', ['netns', 'exec', a, 'python3', SPOOF, 'tcp-check', dst, String(port)], { encoding: 'utf8' });
        t.comment(`tcp-check: ${r.status} ${r.stderr}`);
      }
    }
    const s = await statsA();
    t.same(s.dropped, { arp: 0, ipv4: 0, ipv6: 0, vlan: 0, other: 0 }, 'nothing of it dropped');
  });

  await t.test("a spoofed source (b's address) does not arrive, and is counted", async (t) => {
    const before = await statsA();
    await spoofedSourcesStopped(t, a, '10.244.1.2', c, C4, C6, B4, B6);
    const after = await statsA();
    t.ok(after.dropped.ipv4 - before.dropped.ipv4 >= 10, `IPv4 drops counted (${after.dropped.ipv4 - before.dropped.ipv4})`);
    t.ok(after.dropped.ipv6 - before.dropped.ipv6 >= 10, `IPv6 drops counted (${after.dropped.ipv6 - before.dropped.ipv6})`);
    t.equal(after.byReason['ipv4-source'] - before.byReason['ipv4-source'], after.dropped.ipv4 - before.dropped.ipv4, 'by reason: ipv4-source');
    // The control: the same lie from the unprotected pod d arrives.
    const ctl4 = await receive(c, C4, 5004, () => py(d, ['udp-send', B4, C4, '5004', '5']));
    t.ok(ctl4.includes(B4), 'control: without anti-spoofing the IPv4 lie arrives');
    const ctl6 = await receive(c, C6, 5005, () => py(d, ['udp-send', B6, C6, '5005', '5']));
    t.ok(ctl6.includes(B6), 'control: and the IPv6 one');
    t.ok(pings(ns, a, C4), 'a still reaches c with its own address');
  });

  await t.test("ARP claiming b's IPv4 does not move the node's neighbour entry", async (t) => {
    t.ok(sh('ip', ['netns', 'exec', host, 'ping', '-c1', '-W2', B4]).length > 0, 'node resolves b');
    t.match(hostNeigh(B4), new RegExp(macB), "node's entry: b's MAC");
    await new Promise((r) => setTimeout(r, 1300)); // past the 1 s locktime that guards ARP updates
    const before = await statsA();
    py(a, ['arp', 'eth0', '2', B4, macA, '10.244.1.1', brMac, brMac]); // unsolicited reply
    py(a, ['arp', 'eth0', '1', B4, macA, B4, '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']); // gratuitous
    await new Promise((r) => setTimeout(r, 300));
    t.match(hostNeigh(B4), new RegExp(macB), "still b's MAC");
    const after = await statsA();
    t.ok(after.dropped.arp - before.dropped.arp >= 2, `ARP drops counted (${after.dropped.arp - before.dropped.arp})`);
    await lieUntilMoved(B4, macD, () => py(d, ['arp', 'eth0', '2', B4, macD, '10.244.1.1', brMac, brMac]));
    t.match(hostNeigh(B4), new RegExp(macD), "control: from d the lie moves the entry to d's MAC");
    sh('ip', ['-n', host, 'neigh', 'del', B4, 'dev', 'podnet0']);
    t.ok(pings(ns, a, B4), 'a → b works (a resolves the gateway with its own address)');
  });

  await t.test("an unsolicited NA claiming b's IPv6 does not move the node's neighbour entry", async (t) => {
    t.ok(sh('ip', ['netns', 'exec', host, 'ping', '-c1', '-W2', B6]).length > 0, 'node resolves b');
    t.match(hostNeigh(B6), new RegExp(macB), "node's entry: b's MAC");
    const before = await statsA();
    const llA = linkLocal(a);
    py(a, ['na', 'eth0', macA, '33:33:00:00:00:01', llA, 'ff02::1', B6]); // from a's link-local: passes the source rule
    py(a, ['na', 'eth0', macA, '33:33:00:00:00:01', 'fd00:10:244:1::2', 'ff02::1', B6]); // from a's own address
    await new Promise((r) => setTimeout(r, 300));
    t.match(hostNeigh(B6), new RegExp(macB), "still b's MAC");
    const after = await statsA();
    t.ok(after.byReason['ipv6-na-target'] - before.byReason['ipv6-na-target'] >= 2, 'NA target drops counted');
    py(a, ['na', 'eth0', macA, '33:33:00:00:00:01', llA, 'ff02::1', llA]); // a's own link-local target: allowed
    t.equal((await statsA()).byReason['ipv6-na-target'], after.byReason['ipv6-na-target'], 'an NA for its own link-local passes');
    py(a, ['na', 'eth0', macA, '33:33:00:00:00:01', llA, 'ff02::1', B6, 'dstopt']); // hidden behind an extension header
    await new Promise((r) => setTimeout(r, 300));
    t.match(hostNeigh(B6), new RegExp(macB), "behind a Destination Options header: still b's MAC");
    t.ok((await statsA()).byReason['ipv6-ext-header'] >= 1, 'counted as ipv6-ext-header');
    await lieUntilMoved(B6, macD, () => py(d, ['na', 'eth0', macD, '33:33:00:00:00:01', linkLocal(d), 'ff02::1', B6]));
    t.match(hostNeigh(B6), new RegExp(macD), "control: from d the NA moves the entry to d's MAC");
    sh('ip', ['-n', host, 'neigh', 'del', B6, 'dev', 'podnet0']);
    t.ok(sh('ip', ['netns', 'exec', host, 'ping', '-c1', '-W2', B6]).length > 0, 'node resolves b again');
    await lieUntilMoved(B6, macD, () => py(d, ['na', 'eth0', macD, '33:33:00:00:00:01', linkLocal(d), 'ff02::1', B6, 'dstopt']));
    t.match(hostNeigh(B6), new RegExp(macD), 'control: the node does take an NA behind a Destination Options header');
    sh('ip', ['-n', host, 'neigh', 'del', B6, 'dev', 'podnet0']);
    t.ok(pings(ns, a, B6), 'a → b over IPv6 still works');
  });

  await t.test('a VLAN priority tag (VID 0) is no way around the rules', async (t) => {
    const before = await statsA();
    const got = await receive(c, C4, 5006, () => py(a, ['vlan-udp', 'eth0', macA, brMac, B4, C4, '5006', '5']));
    t.same(got, [], 'tagged spoof: nothing received');
    t.ok((await statsA()).dropped.vlan - before.dropped.vlan >= 5, 'VLAN drops counted');
    // Without the 802.1Q rule (the others in place) the tagged lie gets through: the ip rules
    // never see it, and the node's stack strips a VID 0 tag and routes the packet.
    sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'del', 'dev', vethA, 'ingress', 'pref', '30900']);
    const ctl = await receive(c, C4, 5007, () => py(a, ['vlan-udp', 'eth0', macA, brMac, B4, C4, '5007', '5']));
    t.ok(ctl.includes(B4), 'control: without the tag rule the tagged lie arrives');
    const rule = antispoofRules({ ipv4: ['10.244.1.2'], ipv6: [], mac: macA }).find((r) => r.pref === 30900)!;
    sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'add', 'dev', vethA, 'ingress', ...tcFilterArgs(rule)]);
    const again = await receive(c, C4, 5008, () => py(a, ['vlan-udp', 'eth0', macA, brMac, B4, C4, '5008', '3']));
    t.same(again, [], 'rule back: dropped again');
  });

  await t.test("b's MAC (with a's own IP) does not take b's place in the bridge's forwarding table", async (t) => {
    const fdbPort = () => /dev (\S+)/.exec(sh('bridge', ['-n', host, 'fdb', 'show', 'br', 'podnet0']).split('\n').find((l) => l.startsWith(macB)) ?? '')?.[1];
    t.ok(pings(ns, b, '10.244.1.1'), 'b speaks, the bridge learns its MAC');
    const vethB = rb.interfaces[1].name as string;
    t.equal(fdbPort(), vethB, "b's MAC on b's port");
    const before = await statsA();
    const got = await receive(c, C4, 5009, () => {
      py(a, ['eth-udp', 'eth0', macB, brMac, '10.244.1.2', C4, '5009', '5']); // IPv4
      py(a, ['eth-udp', 'eth0', macB, 'ff:ff:ff:ff:ff:ff', '10.244.1.2', C4, '5009', '1']); // broadcast
    });
    t.same(got, [], 'nothing received');
    t.equal(fdbPort(), vethB, "still on b's port");
    const after = await statsA();
    t.ok(after.dropped.ipv4 - before.dropped.ipv4 >= 6, 'counted (IPv4 with a foreign MAC)');
    py(d, ['eth-udp', 'eth0', macB, brMac, '10.244.1.5', C4, '5010', '2']);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(fdbPort(), vethD, "control: from d the frame moves b's MAC to d's port");
    t.ok(pings(ns, b, '10.244.1.1'), 'b speaks again and takes it back');
  });

  await t.test('CHECK notices a missing filter; DEL takes them with the veth', async (t) => {
    sh('ip', ['netns', 'exec', host, 'tc', 'filter', 'del', 'dev', vethA, 'ingress', 'pref', '30199']);
    const bad = runPlugin({ command: 'CHECK', containerId: 'ctr-a', netns: ns.path(a), ifname: 'eth0', hostNs: host }, { ...conf, prevResult: ra });
    t.equal(bad.code, 1);
    t.match(bad.json?.msg, /pref 30199 .*missing/);
    t.equal(runPlugin({ command: 'DEL', containerId: 'ctr-a', netns: ns.path(a), ifname: 'eth0', hostNs: host }, conf).code, 0);
    t.notOk(statsIn(host).some((s) => s.veth === vethA), 'its counters are gone with it');
    t.notMatch(sh('ip', ['-n', host, '-br', 'link']), new RegExp(vethA));
  });

  await t.test('antiSpoofing must be a boolean (code 7 naming it)', async (t) => {
    const r = runPlugin({ command: 'ADD', containerId: 'x', netns: ns.path(b), ifname: 'eth1', hostNs: host }, { ...conf, antiSpoofing: 'yes' });
    t.equal(r.json?.code, 7);
    t.equal(r.json?.details, 'antiSpoofing="yes"');
  });
});
