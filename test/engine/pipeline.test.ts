// Runs the packet fixtures through the engine's test entry point (no root, no TUN) and
// checks every output independently: addresses, ports, and all checksums recomputed.
import t from 'tap';
import { Engine } from '../../src/engine';
import { FIXTURES, SERVICES } from './fixtures';
import { completePartial, decode } from '../helpers/packets';

function engine(): Engine {
  const e = new Engine({ flowCapacity: 4096 });
  e.replace(SERVICES);
  return e;
}

for (const f of FIXTURES) {
  t.test(f.name, async (t) => {
    const e = engine();
    t.teardown(() => e.close());
    const input = f.vnet ? Buffer.concat([f.vnet, f.input]) : f.input;
    const r = e.process(input, { vnetHdr: !!f.vnet });
    t.equal(r.verdict, f.expect.verdict, 'verdict');
    if (f.expect.reason) t.equal(r.reason, f.expect.reason, 'reason');
    if (r.verdict === 'drop') {
      t.equal(r.packet, undefined, 'nothing written');
      t.ok((e.stats().drops[r.reason!] ?? 0) >= 1, `drop counted under ${r.reason}`);
      return;
    }
    t.ok(r.packet, 'a packet comes out');
    let out = r.packet!;
    let vh: Buffer | undefined;
    if (f.vnet) {
      vh = out.subarray(0, 10);
      out = out.subarray(10);
      if (vh[0] & 1) out = completePartial(out, vh.readUInt16LE(6), vh.readUInt16LE(8));
    }
    if (f.expect.unchanged) {
      t.same(out, f.input, 'byte for byte unchanged');
      return;
    }
    const d = decode(out);
    t.ok(d.ipChecksumOk, 'IP header checksum verifies');
    t.ok(d.l4ChecksumOk, 'transport checksum verifies');
    for (const k of ['src', 'dst', 'sport', 'dport', 'icmpType', 'icmpCode'] as const) {
      if (f.expect[k] !== undefined) t.equal(d[k], f.expect[k], k);
    }
    if (f.expect.tcpFlags !== undefined) t.equal(d.flags, f.expect.tcpFlags, 'tcp flags');
    if (f.expect.verdict === 'forward' && !f.expect.unchanged) {
      const i = decode(f.vnet && (f.vnet[0] & 1) ? completePartial(f.input, f.vnet.readUInt16LE(6), f.vnet.readUInt16LE(8)) : f.input);
      t.same(d.payload, i.payload, 'payload untouched');
    }
    if (vh && vh[1] !== 0) {
      t.equal(vh.readUInt16LE(2), d.l4off + (d.proto === 6 ? 20 : 8), 'hdr_len is the real header length');
      t.equal(vh.readUInt16LE(4), f.vnet!.readUInt16LE(4), 'gso_size kept');
    }
  });
}
