// Steering command lines (no root): port ranges as u32 (value, mask) blocks cover exactly the
// range, and each rule kind renders to the tc arguments the e2e test runs for real.
import t from 'tap';
import { DROP_DEV, portBlocks, u32Args } from '../../src/node/steering';

const covers = (blocks: [number, number][], p: number) => blocks.some(([v, m]) => (p & m) === v);

t.test('portBlocks covers exactly the range', async (t) => {
  for (const [lo, hi] of [[30000, 32767], [61000, 65535], [80, 80], [0, 65535], [1, 2], [32768, 32769]] as const) {
    const b = portBlocks(lo, hi);
    let wrong = 0;
    for (let p = 0; p < 65536; p++) if (covers(b, p) !== (p >= lo && p <= hi)) wrong++;
    t.equal(wrong, 0, `${lo}-${hi} in ${b.length} blocks`);
  }
  t.same(portBlocks(80, 80), [[80, 0xffff]]);
});

t.test('u32 arguments per rule kind', async (t) => {
  t.same(u32Args({ action: 'redirect', family: 4, dst: '198.51.100.7', proto: 'tcp', dstPort: 80 }, 24000, 'tun0'), [[
    'pref', '24000', 'protocol', 'ip', 'u32', 'match', 'ip', 'dst', '198.51.100.7/32', 'match', 'ip', 'protocol', '6', '0xff',
    'match', 'ip', 'dport', '80', '0xffff', 'action', 'mirred', 'egress', 'redirect', 'dev', 'tun0']]);
  const ranged = u32Args({ action: 'redirect', family: 6, dst: 'fd00:50::2', proto: 'udp', dstPort: [30000, 32767] }, 29000, 'tun0');
  t.equal(ranged.length, portBlocks(30000, 32767).length, 'one filter per port block, same pref');
  t.ok(ranged.every((a) => a.includes('ip6') && a[1] === '29000' && a.includes('17')));
  const pass = u32Args({ action: 'pass', family: 4, dst: '192.168.50.2', proto: 'tcp', dstPort: 32000 }, 20000, 'tun0')[0];
  t.same(pass.slice(-2), ['flowid', '1:1'], 'pass = match without action');
  const drop = u32Args({ action: 'drop', family: 4, dst: '198.51.100.9', proto: 'tcp' }, 23000, 'tun0')[0];
  t.same(drop.slice(-2), ['dev', DROP_DEV], 'drop = redirect to the down sink');
  t.notOk(drop.includes('dport'), 'no port match without a port');
  const src = u32Args({ action: 'redirect', family: 4, dst: '198.51.100.9', proto: 'tcp', dstPort: 80, src: '192.0.2.0/24' }, 21000, 'tun0')[0];
  t.ok(src.join(' ').includes('match ip src 192.0.2.0/24'));
});

t.test('the current-netns guard stays', async (t) => {
  const { Steering } = await import('../../src/node/steering');
  const { currentNamedNetns } = await import('../../src/netns/current');
  if (currentNamedNetns() !== null) { t.pass('running inside a named netns'); return; }
  t.throws(() => new Steering({ uplinks: ['eth0'], tun: 'podnet-tun' }), { code: 'NETNS_HOST_REFUSED' });
});
