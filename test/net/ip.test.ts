// src/net/ip.ts (no root): parsing, canonical text, family and bytes of IPv4 and IPv6 addresses,
// as tables of input → expected output, including the inputs that are not addresses.
import t from 'tap';
import {
  AddressError, canonicalIp, familyOf, formatIp, ipBytes, ipFamily, ipFromBytes, ipText, mustParseIp, parseIp,
} from '../../src/net/ip';

t.test('canonical text and family', async (t) => {
  const rows: [input: string, canonical: string, family: 4 | 6][] = [
    ['10.0.0.1', '10.0.0.1', 4],
    ['0.0.0.0', '0.0.0.0', 4],
    ['255.255.255.255', '255.255.255.255', 4],
    ['::', '::', 6],
    ['::1', '::1', 6],
    ['FD00:0:0:0:0:0:0:0A', 'fd00::a', 6],
    ['fd00:0::1', 'fd00::1', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6], // first of two equal zero runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', 6], // a single zero group is not compressed
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3', 6], // the longest run wins
    ['::ffff:10.0.0.1', '::ffff:a00:1', 6], // IPv4-mapped: hex groups, as the URL parser writes it
    ['::10.0.0.1', '::a00:1', 6],
    ['fe80::1%eth0', 'fe80::1', 6], // a zone is not part of the address
  ];
  for (const [input, canonical, family] of rows) {
    t.equal(canonicalIp(input), canonical, `canonicalIp(${input})`);
    t.equal(ipFamily(input), family, `ipFamily(${input})`);
    t.equal(familyOf(input), family, `familyOf(${input})`);
    t.equal(formatIp(parseIp(input)!), canonical, `formatIp(parseIp(${input}))`);
    t.equal(canonicalIp(input), canonical, `canonicalIp(${input}), cached`);
  }
});

t.test('not addresses', async (t) => {
  const bad = ['', '10.0.0', '10.0.0.1.2', '10.0.0.256', '010.0.0.1', '1.2.3.-4', ' 10.0.0.1', '10.0.0.1/32',
    ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'fd00::g', '12345::', '::ffff:10.0.0.256', 'localhost',
    'x'.repeat(46)];
  for (const s of bad) {
    t.equal(parseIp(s), undefined, `parseIp(${JSON.stringify(s)})`);
    t.equal(ipFamily(s), 0, `ipFamily(${JSON.stringify(s)})`);
    t.equal(canonicalIp(s), s, `canonicalIp(${JSON.stringify(s)}) is the input`);
    t.throws(() => familyOf(s), { name: 'AddressError', code: 'NET_BAD_ADDRESS', message: `not an IP address: ${s}` });
    t.throws(() => mustParseIp(s), AddressError);
    t.throws(() => ipBytes(s), AddressError);
  }
});

t.test('bytes', async (t) => {
  const rows: [string, string][] = [
    ['10.1.2.3', '0a010203'],
    ['0.0.0.0', '00000000'],
    ['::', '00'.repeat(16)],
    ['::1', `${'00'.repeat(15)}01`],
    ['fd00::a', `fd00${'00'.repeat(13)}0a`],
    ['::ffff:1.2.3.4', `${'00'.repeat(10)}ffff01020304`],
  ];
  for (const [ip, hex] of rows) {
    t.equal(ipBytes(ip).toString('hex'), hex, `ipBytes(${ip})`);
    t.equal(ipBytes(parseIp(ip)!).toString('hex'), hex, `ipBytes(parseIp(${ip}))`);
    t.equal(ipText(Buffer.from(hex, 'hex')), canonicalIp(ip), `ipText(${hex})`);
    t.same(ipFromBytes(Buffer.from(hex, 'hex')), parseIp(ip), `ipFromBytes(${hex})`);
  }
  t.throws(() => ipText(Buffer.alloc(5)), { code: 'NET_BAD_ADDRESS' }, 'five bytes are no address');
});
