// The egress masquerade's source follows the node's address (setEgressSources): new flows leave
// with the new one, flows masqueraded to an address that went are cut, a family without a
// source is not masqueraded; crafted packets, no root.
import t from 'tap';
import { Engine } from '../../src/engine';
import { CLIENT4, CLIENT6, SERVICES } from './fixtures';
import { decode, ip, TCP } from '../helpers/packets';

const OUT4 = '203.0.113.9', OUT6 = '2001:db8:99::9';

function engine(): Engine {
  const e = new Engine({
    flowCapacity: 1024,
    egressMasquerade: {
      podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'], exemptCIDRs: ['10.244.0.0/16', '10.96.0.0/12', 'fd00:10:244::/48'],
      sourceIPv4: '192.168.50.2', sourceIPv6: '2001:db8:50::2', portMin: 62000, portMax: 62100,
    },
  });
  e.replace(SERVICES);
  return e;
}

const tcp = (src: string, dst: string, sport: number, flags: number) => ip(src, dst, { proto: 'tcp', sport, dport: 443, flags });

t.test('a new source is used by new flows; flows on the old one are cut, both directions reset', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const old = decode(e.process(tcp(CLIENT4, OUT4, 40000, TCP.SYN)).packet!);
  t.equal(old.src, '192.168.50.2');
  const udpOld = decode(e.process(ip(CLIENT4, OUT4, { proto: 'udp', sport: 5353, dport: 53 })).packet!);
  t.equal(udpOld.src, '192.168.50.2');
  const v6 = decode(e.process(tcp(CLIENT6, OUT6, 40001, TCP.SYN)).packet!);
  t.equal(v6.src, '2001:db8:50::2');

  const r = e.setEgressSources({ sourceIPv4: '192.168.60.7', sourceIPv6: '2001:db8:50::2' });
  t.equal(r.flowsCut, 2, 'the IPv4 TCP and UDP flows; the IPv6 source did not change');

  const next = e.process(tcp(CLIENT4, OUT4, 40000, TCP.ACK));
  t.equal(next.verdict, 'reply', 'the cut TCP flow answers its next segment with a RST');
  t.ok(decode(next.packet!).flags! & TCP.RST, "a RST");
  const fresh = decode(e.process(tcp(CLIENT4, OUT4, 40002, TCP.SYN)).packet!);
  t.equal(fresh.src, '192.168.60.7', 'a new flow leaves with the new address');
  t.ok(fresh.sport! >= 62000 && fresh.sport! <= 62100);
  t.ok(fresh.ipChecksumOk && fresh.l4ChecksumOk);
  const back = decode(e.process(ip(OUT4, '192.168.60.7', { proto: 'tcp', sport: 443, dport: fresh.sport!, flags: TCP.SYN | TCP.ACK })).packet!);
  t.equal(back.dst, CLIENT4, 'its reply is restored');
  t.equal(back.dport, 40002);
  t.equal(decode(e.process(ip(CLIENT4, OUT4, { proto: 'udp', sport: 5353, dport: 53 })).packet!).src, '192.168.60.7', 'the UDP flow starts over with the new address');
  t.equal(decode(e.process(tcp(CLIENT6, OUT6, 40001, TCP.ACK)).packet!).src, '2001:db8:50::2', 'the IPv6 flow is untouched');
});

t.test('a family without a source stops being masqueraded; the same source cuts nothing', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  e.process(tcp(CLIENT4, OUT4, 41000, TCP.SYN));
  t.equal(e.setEgressSources({ sourceIPv4: '192.168.50.2', sourceIPv6: '2001:db8:50::2' }).flowsCut, 0, 'unchanged: nothing cut');
  t.equal(decode(e.process(tcp(CLIENT4, OUT4, 41000, TCP.ACK)).packet!).src, '192.168.50.2', 'the flow goes on');
  t.equal(e.setEgressSources({ sourceIPv6: '2001:db8:50::2' }).flowsCut, 1, 'the IPv4 source went');
  t.equal(decode(e.process(tcp(CLIENT4, OUT4, 41001, TCP.SYN)).packet!).src, CLIENT4, 'no IPv4 source: not masqueraded');
  e.setEgressSources({ sourceIPv4: '192.168.50.3', sourceIPv6: '2001:db8:50::2' });
  t.equal(decode(e.process(tcp(CLIENT4, OUT4, 41002, TCP.SYN)).packet!).src, '192.168.50.3', 'a source again: masqueraded again');
});

t.test('service masquerade and service flows are not egress flows: never cut by a source change', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const svc = e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: 42000, dport: 80, flags: TCP.SYN }));
  t.equal(svc.verdict, 'forward');
  t.equal(e.setEgressSources({}).flowsCut, 0);
  t.equal(e.process(ip(CLIENT4, '10.96.0.10', { proto: 'tcp', sport: 42000, dport: 80, flags: TCP.ACK })).verdict, 'forward');
});

t.test('bad sources are coded errors and change nothing', async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  t.throws(() => e.setEgressSources({ sourceIPv4: '2001:db8::1' }), { code: 'ENGINE_BAD_OPTION', message: /sourceIPv4/ });
  t.throws(() => e.setEgressSources({ sourceIPv6: 'nope' }), { code: 'ENGINE_BAD_OPTION', message: /sourceIPv6/ });
  t.throws(() => e.setEgressSources(null as never), { code: 'ENGINE_BAD_OPTION' });
  t.equal(decode(e.process(tcp(CLIENT4, OUT4, 43000, TCP.SYN)).packet!).src, '192.168.50.2', 'the old source still in use');
});
