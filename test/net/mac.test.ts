// src/net/mac.ts (no root): text ⇄ bytes, random and bridge MACs are locally administered
// unicast, and the bridge's is a pure function of its name.
import t from 'tap';
import { bridgeMac, macBytes, macText, randomMac } from '../../src/net/mac';

const localUnicast = (b: Buffer) => (b[0] & 0x03) === 0x02;

t.test('text and bytes', async (t) => {
  t.equal(macText(Buffer.from([0x02, 0, 0xab, 0xcd, 0xef, 1])), '02:00:ab:cd:ef:01');
  t.equal(macText(Buffer.alloc(5)), undefined, 'not a MAC');
  t.equal(macText(undefined), undefined);
  t.same([...macBytes('02:00:AB:cd:ef:01')], [2, 0, 0xab, 0xcd, 0xef, 1]);
});

t.test('random MACs', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const m = randomMac();
    t.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    t.ok(localUnicast(macBytes(m)), `${m} is locally administered unicast`);
    seen.add(m);
  }
  t.ok(seen.size > 60, 'random');
});

t.test('the bridge MAC', async (t) => {
  const a = bridgeMac('podnet0');
  t.equal(a.length, 6);
  t.ok(localUnicast(a));
  t.same(bridgeMac('podnet0'), a, 'stable');
  t.notSame(bridgeMac('podnet1'), a, 'per name');
  // The derivation podnetd, the CNI plugin and the sandbox all rely on (sha256 of the name).
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256').update('podnet-bridge:podnet0').digest();
  t.equal(a.subarray(1).toString('hex'), h.subarray(1, 6).toString('hex'));
  t.equal(a[0], (h[0] & 0xfe) | 0x02);
});
