// The host veth's alias as the CNI plugin writes it and podnetd's kernel flow cache reads it
// back (src/node/pod-alias.ts, src/node/local-pods.ts): addresses, the pod's MAC, and the
// antiSpoofing opt-out; aliases written before a token existed still parse.
import t from 'tap';
import type { LinkInfo } from '../../src/netlink/link';
import { bridgePods } from '../../src/node/local-pods';
import { aliasAddresses, aliasAntiSpoofing, aliasMac, podAlias } from '../../src/node/pod-alias';

const MAC = '02:5a:1c:00:00:07';

t.test('podAlias writes antispoof=off only for an opt-out', async (t) => {
  t.equal(podAlias(['10.244.1.5/24', 'fd00:10:244:1::5/64'], '02:5A:1C:00:00:07'), `podnet: 10.244.1.5 fd00:10:244:1::5 mac=${MAC}`, 'the default: no token');
  t.equal(podAlias(['10.244.1.5/24'], MAC, { antiSpoofing: true }), `podnet: 10.244.1.5 mac=${MAC}`, 'antiSpoofing true: no token');
  t.equal(podAlias(['10.244.1.6/24'], MAC, { antiSpoofing: false }), `podnet: 10.244.1.6 mac=${MAC} antispoof=off`, 'antiSpoofing false');
});

t.test('the alias read back', async (t) => {
  const off = podAlias(['10.244.1.6', 'fd00:10:244:1::6'], MAC, { antiSpoofing: false });
  t.same(aliasAddresses(off), ['10.244.1.6', 'fd00:10:244:1::6'], 'addresses: the token is not one');
  t.equal(aliasMac(off), MAC, 'the MAC');
  t.equal(aliasAntiSpoofing(off), false, 'the opt-out');
  t.equal(aliasAntiSpoofing(podAlias(['10.244.1.5'], MAC)), true, 'default: on');
});

t.test('older aliases keep parsing', async (t) => {
  const noMac = 'podnet: 10.244.1.5 fd00:10:244:1::5';
  t.same(aliasAddresses(noMac), ['10.244.1.5', 'fd00:10:244:1::5']);
  t.equal(aliasMac(noMac), undefined, 'no mac= token');
  t.equal(aliasAntiSpoofing(noMac), true, 'no antispoof= token: anti-spoofing on');
  const withMac = `podnet: 10.244.1.5 mac=${MAC}`;
  t.equal(aliasMac(withMac), MAC);
  t.equal(aliasAntiSpoofing(withMac), true);
});

t.test('other aliases are no pod', async (t) => {
  for (const a of [undefined, '', 'uplink to the rack', 'podnetx: 10.0.0.1 antispoof=off']) {
    t.same(aliasAddresses(a), [], `addresses of ${JSON.stringify(a)}`);
    t.equal(aliasMac(a), undefined, `MAC of ${JSON.stringify(a)}`);
    t.equal(aliasAntiSpoofing(a), true, `anti-spoofing of ${JSON.stringify(a)}: the default`);
  }
});

t.test("bridgePods carries each pod's opt-out", async (t) => {
  const link = (index: number, name: string, alias?: string): LinkInfo => ({ index, name, master: 1, alias, mac: '02:00:00:00:00:01' });
  const links: LinkInfo[] = [
    { index: 1, name: 'podnet0', mac: '0a:58:0a:f4:01:01' },
    link(2, 'pna', podAlias(['10.244.1.2'], '02:00:00:00:00:02')),
    link(3, 'pnb', podAlias(['10.244.1.3'], '02:00:00:00:00:03', { antiSpoofing: false })),
    link(4, 'pnc', 'podnet: 10.244.1.4'), // no MAC: not a cacheable pod
  ];
  const pods = bridgePods(links, 'podnet0');
  t.same(pods.map((p) => [p.name, p.antiSpoofing]), [['pna', true], ['pnb', false]]);
  t.equal(pods[1].mac, '02:00:00:00:00:03', 'the opt-out pod keeps its MAC (redirects need it)');
});
