// GC and DEL of proxy-NDP entries when the IPAM is delegated (Debian's host-local), which
// cannot tell the plugin which addresses it handed out: the addresses ride on the host veth's
// alias, our proxy entries carry protocol 112, and GC removes exactly ours that no remaining
// attachment holds — also after a "crash" that left an entry without its veth — while an entry
// someone else added on the bridge stays.
import path from 'node:path';
import t from 'tap';
import { requires } from '../helpers/privileged';
import { NsSet, refChecks, runPlugin, sh } from './fixtures/helpers';

t.test('GC of proxy-NDP entries with a delegated IPAM', requires(refChecks), async (t) => {
  const ns = new NsSet();
  t.teardown(() => ns.cleanup());
  const host = ns.add('host');
  const conf = {
    cniVersion: '1.0.0', name: 'hlgc', type: 'podnet', bridge: 'podnet5', // Debian's host-local speaks up to 1.0.0
    ipam: {
      type: 'host-local', ranges: [[{ subnet: '10.247.0.0/24' }], [{ subnet: 'fd00:247::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: path.join(ns.tmp, 'host-local'),
    },
  };
  const run = (command: string, id?: string, pod?: string, c: object = conf) =>
    runPlugin({ command, containerId: id, netns: pod ? ns.path(pod) : undefined, ifname: id ? 'eth0' : undefined, hostNs: host }, c);
  const proxies = () => sh('ip', ['-n', host, '-6', 'neigh', 'show', 'proxy', 'dev', 'podnet5']);
  const pods = ['g1', 'g2', 'g3'].map((p) => ns.add(p));
  const rs = pods.map((p, i) => run('ADD', `ctr-g${i + 1}`, p));
  rs.forEach((r, i) => t.equal(r.code, 0, r.code ? r.stdout : `ADD g${i + 1}`));
  const veth = (i: number) => rs[i].json.interfaces[1].name as string;

  await t.test('ADD marks its proxy entries and records the addresses on the veth', async (t) => {
    t.match(proxies(), /fd00:247::2 proxy proto 112/);
    t.match(proxies(), /fd00:247::4 proxy proto 112/);
    t.match(sh('ip', ['-n', host, 'link', 'show', veth(0)]), /alias podnet: 10\.247\.0\.2 fd00:247::2/);
  });

  await t.test('GC keeps the valid pod and what is not ours, removes the rest', async (t) => {
    sh('ip', ['-n', host, '-6', 'neigh', 'add', 'proxy', 'fd00:247::99', 'dev', 'podnet5']); // someone else's
    sh('ip', ['-n', host, 'link', 'del', veth(2)]); // a crash: g3's veth gone, its proxy entry left
    t.match(proxies(), /fd00:247::4/);
    const g = run('GC', undefined, undefined, { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'ctr-g1', ifname: 'eth0' }] });
    t.equal(g.code, 0, g.stdout);
    const left = proxies();
    t.match(left, /fd00:247::2 /, "valid g1's entry kept");
    t.notMatch(left, /fd00:247::3 /, "g2's entry (veth removed by GC) gone");
    t.notMatch(left, /fd00:247::4 /, "g3's entry (veth gone in a crash) gone");
    t.match(left, /fd00:247::99 /, 'an entry this plugin did not add stays');
    t.notMatch(sh('ip', ['-n', host, '-br', 'link']), new RegExp(veth(1)), "g2's veth gone");
  });

  await t.test('DEL without prevResult still removes the proxy entry (from the alias)', async (t) => {
    const d = run('DEL', 'ctr-g1', pods[0]);
    t.equal(d.code, 0, d.stdout);
    t.notMatch(proxies(), /fd00:247::2 /);
    t.equal(run('DEL', 'ctr-g1', pods[0]).code, 0, 'and again');
  });
});
