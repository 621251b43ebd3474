// src/net/cidr.ts (no root): parsing under each host-bit policy, canonical text, containment,
// overlap and the n-th address, v4 and v6, with the edges (/0, /32, /128, IPv4-mapped).
import t from 'tap';
import {
  broadcastOf, canonicalCidr, cidrContains, cidrHasIp, contains, formatCidr, formatNetwork, hostCidr, networkOf,
  nthAddress, overlaps, parseCidr, parseNetwork, readCidr, tryParseCidr, type HostBits,
} from '../../src/net/cidr';
import { formatIp, parseIp } from '../../src/net/ip';

t.test('parse under each host-bit policy', async (t) => {
  // input, then what keep / clear / reject give (a string: the reason must match it).
  const rows: [string, string, string, string | RegExp][] = [
    ['10.244.1.5/24', '10.244.1.5/24', '10.244.1.0/24', /host bits set/],
    ['10.244.1.0/24', '10.244.1.0/24', '10.244.1.0/24', '10.244.1.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0', '0.0.0.0/0', '0.0.0.0/0'],
    ['1.2.3.4/0', '1.2.3.4/0', '0.0.0.0/0', /host bits set/],
    ['10.0.0.1/32', '10.0.0.1/32', '10.0.0.1/32', '10.0.0.1/32'],
    ['FD00:0:0:1::7/64', 'fd00:0:0:1::7/64', 'fd00:0:0:1::/64', /host bits set/],
    ['::/0', '::/0', '::/0', '::/0'],
    ['fd00::1/128', 'fd00::1/128', 'fd00::1/128', 'fd00::1/128'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128', '::ffff:a00:1/128', '::ffff:a00:1/128'],
    ['::ffff:10.0.0.0/104', '::ffff:a00:0/104', '::ffff:a00:0/104', '::ffff:a00:0/104'],
  ];
  const policies: HostBits[] = ['keep', 'clear', 'reject'];
  for (const [input, ...want] of rows) {
    policies.forEach((p, i) => {
      const w = want[i];
      const got = readCidr(input, p);
      if (typeof w === 'string') t.equal(typeof got === 'string' ? got : formatCidr(got), w, `${p} ${input}`);
      else {
        t.match(got, w, `${p} ${input} is refused`);
        t.throws(() => parseCidr(input, p), { name: 'AddressError', code: 'NET_BAD_CIDR', message: w });
        t.equal(tryParseCidr(input, p), undefined);
      }
    });
  }
});

t.test('not CIDRs, with a reason that names the input', async (t) => {
  const rows: [string, RegExp][] = [
    ['10.0.0.0', /no \/prefix/],
    ['10.0.0.0/', /bad prefix/],
    ['10.0.0.0/-1', /bad prefix/],
    ['10.0.0.0/33', /bad prefix/],
    ['10.0.0.0/8/8', /bad prefix/],
    ['10.0.0.0/ 8', /bad prefix/],
    ['::/129', /bad prefix/],
    ['x/8', /bad address/],
    ['10.0.0.256/8', /bad address/],
    ['', /no \/prefix/],
  ];
  for (const [input, why] of rows) {
    for (const p of ['keep', 'clear', 'reject'] as const) {
      const r = readCidr(input, p);
      t.type(r, 'string', `${p} ${JSON.stringify(input)}`);
      t.match(r, why);
      t.match(r, JSON.stringify(input));
    }
  }
});

t.test('bare addresses, networks, canonical blocks', async (t) => {
  t.equal(formatCidr(parseCidr('10.0.0.1', 'reject', { bare: true })), '10.0.0.1/32');
  t.equal(formatCidr(parseNetwork('fd00::1')), 'fd00::1/128');
  t.equal(formatCidr(parseNetwork('10.244.0.0/16')), '10.244.0.0/16');
  t.throws(() => parseNetwork('10.244.1.1/16'), { code: 'NET_BAD_CIDR', message: /host bits set/ });
  const fail = (why: string): never => { throw new Error(why); };
  t.equal(canonicalCidr(' 10.1.2.3/8 ', fail), '10.0.0.0/8');
  t.equal(canonicalCidr('1.2.3.4', fail), '1.2.3.4/32');
  t.equal(canonicalCidr('2001:DB8::1/32', fail), '2001:db8::/32');
  t.throws(() => canonicalCidr('10.0.0.0/33', fail), /prefix/);
  t.throws(() => canonicalCidr('nope', fail), /CIDR/);
});

t.test('containment and overlap', async (t) => {
  const c = (s: string) => parseCidr(s, 'clear');
  t.ok(cidrContains(c('10.0.0.0/8'), c('10.200.0.0/16')));
  t.ok(cidrContains(c('10.0.0.0/8'), c('10.0.0.0/8')), 'a block contains itself');
  t.notOk(cidrContains(c('10.0.0.0/8'), c('11.0.0.0/16')));
  t.notOk(cidrContains(c('10.0.0.0/16'), c('10.0.0.0/8')));
  t.ok(cidrContains(c('0.0.0.0/0'), c('255.255.255.255/32')));
  t.ok(cidrContains(c('::/0'), c('fd00::/8')));
  t.notOk(cidrContains(c('::/0'), c('10.0.0.0/8')), 'families never contain each other');
  t.ok(cidrContains(c('::/0'), c('::ffff:10.0.0.0/104')), 'IPv4-mapped is IPv6');
  t.ok(contains(c('10.1.0.0/16'), parseIp('10.1.255.255')!));
  t.notOk(contains(c('10.1.0.0/16'), parseIp('10.2.0.0')!));
  t.notOk(contains(c('::/0'), parseIp('10.0.0.1')!));
  t.ok(cidrHasIp('fd00::/64', 'fd00::ffff'));
  t.notOk(cidrHasIp('fd00::/64', 'fd00:0:0:1::'));
  t.notOk(cidrHasIp('nope', '10.0.0.1'));
  t.notOk(cidrHasIp('10.0.0.0/8', 'nope'));
  t.ok(overlaps(c('10.0.0.0/8'), c('10.1.0.0/16')));
  t.ok(overlaps(c('10.1.0.0/16'), c('10.0.0.0/8')));
  t.notOk(overlaps(c('10.0.0.0/16'), c('10.1.0.0/16')));
  t.notOk(overlaps(c('10.0.0.0/8'), c('::/0')));
});

t.test('network, broadcast, n-th address, host CIDR', async (t) => {
  const k = parseCidr('10.244.1.5/24', 'keep');
  t.equal(formatIp({ family: 4, value: networkOf(k) }), '10.244.1.0');
  t.equal(formatIp({ family: 4, value: broadcastOf(k) }), '10.244.1.255');
  t.equal(formatNetwork(k), '10.244.1.0/24');
  t.equal(formatCidr(k), '10.244.1.5/24');
  t.equal(nthAddress(k, 1), '10.244.1.1', 'counted from the network, not the address as written');
  t.equal(nthAddress(parseNetwork('10.244.0.0/16'), 256), '10.244.1.0', 'carries across octets');
  t.equal(nthAddress(parseNetwork('fd00:10:244:1::/64'), 1), 'fd00:10:244:1::1');
  t.equal(nthAddress(parseNetwork('fd00::/120'), 0x1ff), 'fd00::1ff');
  t.equal(nthAddress(parseNetwork('10.0.0.1/32'), 0), '10.0.0.1');
  t.equal(hostCidr('10.0.0.1'), '10.0.0.1/32');
  t.equal(hostCidr('fd00::1'), 'fd00::1/128');
});
