// podnet next to the reference plugins (Debian's containernetworking-plugins): portmap, tuning
// and bandwidth chained after podnet accept its prevResult, and the reference bridge +
// host-local give the same spec-level answers on the same config shape (result shape, error
// codes, DEL idempotency).
import path from 'node:path';
import t from 'tap';
import { requires } from '../helpers/privileged';
import { NsSet, REF_DIR, podnetConf, refChecks, runPlugin, sh } from './fixtures/helpers';

const keysOf = (o: any) => Object.keys(o ?? {}).sort();

t.test('reference plugins', requires(refChecks), async (t) => {
  const ns = new NsSet();
  t.teardown(() => ns.cleanup());
  const host = ns.add('host');
  const dataDir = path.join(ns.tmp, 'ipam');

  await t.test('portmap, tuning and bandwidth chained after podnet', async (t) => {
    const pod = ns.add('chain');
    const base = podnetConf(dataDir, { name: 'chain' });
    const add = runPlugin({ command: 'ADD', containerId: 'ctr-chain', netns: ns.path(pod), ifname: 'eth0', hostNs: host }, base);
    t.equal(add.code, 0, add.stdout);
    let prev = add.json;
    const chained = [
      { type: 'portmap', capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.rp_filter': '0' } },
      { type: 'bandwidth', ingressRate: 8_000_000, ingressBurst: 100_000 },
    ];
    for (const p of chained) {
      const c = { cniVersion: '1.0.0', name: 'chain', ...p, prevResult: prev };
      const r = runPlugin({ command: 'ADD', containerId: 'ctr-chain', netns: ns.path(pod), ifname: 'eth0', hostNs: host, plugin: path.join(REF_DIR, p.type) }, c);
      t.equal(r.code, 0, `${p.type} ADD accepts podnet's prevResult: ${r.stdout}`);
      t.same(r.json?.ips, add.json.ips, `${p.type} passes the IPs through`);
      prev = r.json ?? prev;
      // portmap 1.1.1's CHECK looks for its IPv4 rule in the IPv6 table on dual-stack results
      // (its own bug, independent of the previous plugin), so only the others are CHECKed.
      if (p.type === 'portmap') continue;
      const chk = runPlugin({ command: 'CHECK', containerId: 'ctr-chain', netns: ns.path(pod), ifname: 'eth0', hostNs: host, plugin: path.join(REF_DIR, p.type) }, { ...c, prevResult: prev });
      t.equal(chk.code, 0, `${p.type} CHECK: ${chk.stdout}`);
    }
    t.match(sh('ip', ['netns', 'exec', pod, 'sysctl', '-n', 'net.ipv4.conf.eth0.rp_filter']), /0/, 'tuning applied inside the pod');
    t.match(sh('ip', ['netns', 'exec', host, 'tc', 'qdisc', 'show', 'dev', add.json.interfaces[1].name]), /tbf/, 'bandwidth shaped the host veth');
    t.match(sh('ip', ['netns', 'exec', host, 'iptables-save']), /18080/, 'portmap DNAT rule');
    for (const p of [...chained].reverse()) {
      const r = runPlugin({ command: 'DEL', containerId: 'ctr-chain', netns: ns.path(pod), ifname: 'eth0', hostNs: host, plugin: path.join(REF_DIR, p.type) }, { cniVersion: '1.0.0', name: 'chain', ...p, prevResult: prev });
      t.equal(r.code, 0, `${p.type} DEL: ${r.stdout}`);
    }
    const final = { ...base, prevResult: prev };
    const chk = runPlugin({ command: 'CHECK', containerId: 'ctr-chain', netns: ns.path(pod), ifname: 'eth0', hostNs: host }, final);
    t.equal(chk.code, 0, `podnet CHECK with the chain's final prevResult: ${chk.stdout}`);
    t.equal(runPlugin({ command: 'DEL', containerId: 'ctr-chain', netns: ns.path(pod), ifname: 'eth0', hostNs: host }, final).code, 0);
  });

  await t.test('side by side with bridge + host-local', async (t) => {
    const refConf = { cniVersion: '1.0.0', name: 'ref', type: 'bridge', bridge: 'refbr0', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.250.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir } };
    const ourConf = podnetConf(dataDir, { name: 'ours', bridge: 'podnet9' }, { ranges: [[{ subnet: '10.251.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] });
    const both = [{ who: 'bridge', conf: refConf, plugin: path.join(REF_DIR, 'bridge') }, { who: 'podnet', conf: ourConf, plugin: undefined }];
    const res: Record<string, any> = {};
    for (const { who, conf, plugin } of both) {
      const pod = ns.add(`sbs-${who}`);
      const o = { containerId: `ctr-${who}`, netns: ns.path(pod), ifname: 'eth0', hostNs: host, plugin };
      const add = runPlugin({ command: 'ADD', ...o }, conf);
      t.equal(add.code, 0, `${who} ADD: ${add.stdout}`);
      res[who] = {
        add: add.json,
        check: runPlugin({ command: 'CHECK', ...o }, { ...conf, prevResult: add.json }).code,
        del1: runPlugin({ command: 'DEL', ...o }, conf).code,
        del2: runPlugin({ command: 'DEL', ...o }, conf).code,
        delGone: (ns.remove(pod), runPlugin({ command: 'DEL', ...o }, conf).code),
        delNothing: runPlugin({ command: 'DEL', ...o, containerId: 'nothing', netns: undefined }, conf).code,
        errDecode: runPlugin({ command: 'ADD', ...o }, '{x').json?.code,
        errEnv: runPlugin({ command: 'ADD', ...o, netns: undefined }, conf).json?.code,
        errNoId: runPlugin({ command: 'ADD', ...o, containerId: undefined }, conf).json?.code,
        errBadId: runPlugin({ command: 'ADD', ...o, containerId: 'a/b' }, conf).json?.code,
        errVersion: runPlugin({ command: 'ADD', ...o }, { ...conf, cniVersion: '9.9.9' }).json?.code,
        errName: runPlugin({ command: 'ADD', ...o }, { ...conf, name: 'a/b' }).json?.code,
        errCheck031: runPlugin({ command: 'CHECK', ...o }, { ...conf, cniVersion: '0.3.1' }).json?.code,
      };
    }
    const ref = res.bridge; const ours = res.podnet;
    t.same(keysOf(ours.add), keysOf(ref.add), 'same top-level result keys');
    t.equal(ours.add.interfaces.length, ref.add.interfaces.length, 'same number of interfaces (bridge, host veth, container)');
    t.same(ours.add.interfaces.map((i: any) => 'sandbox' in i), ref.add.interfaces.map((i: any) => 'sandbox' in i), 'sandbox on the same one');
    t.same(keysOf(ours.add.ips[0]), keysOf(ref.add.ips[0]), 'same ip keys');
    t.equal(ours.add.ips[0].interface, ref.add.ips[0].interface, 'same interface index');
    for (const k of ['check', 'del1', 'del2', 'delGone', 'delNothing', 'errDecode', 'errEnv', 'errNoId', 'errBadId', 'errVersion', 'errName', 'errCheck031']) {
      t.equal(ours[k], ref[k], `${k}: podnet ${ours[k]} = reference ${ref[k]}`);
    }
  });
});
