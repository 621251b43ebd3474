// Reads a tcpdump capture (pcap, Ethernet) and judges every IPv4 UDP checksum in it: complete
// and valid (what a CHECKSUM_NONE packet must carry), a valid CHECKSUM_PARTIAL seed (the
// pseudo-header sum the device or the kernel completes later; a wrong incremental rewrite of
// an address or port shows as neither), or bad.
import fs from 'node:fs';
import { fold, sum16 } from '../helpers/packets';

export interface CsumVerdicts { packets: number; complete: number; partial: number; bad: number; payloads: Buffer[] }

function frames(file: string): Buffer[] {
  const b = fs.readFileSync(file);
  const out: Buffer[] = [];
  if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b2c3d4) return out;
  for (let off = 24; off + 16 <= b.length;) {
    const incl = b.readUInt32LE(off + 8);
    out.push(b.subarray(off + 16, off + 16 + incl));
    off += 16 + incl;
  }
  return out;
}

export function udpChecksums(file: string): CsumVerdicts {
  const v: CsumVerdicts = { packets: 0, complete: 0, partial: 0, bad: 0, payloads: [] };
  for (const f of frames(file)) {
    if (f.length < 14 + 20 || f.readUInt16BE(12) !== 0x0800) continue;
    const ip = f.subarray(14);
    const ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] !== 17) continue;
    const udp = ip.subarray(ihl, ip.readUInt16BE(2));
    v.packets++;
    v.payloads.push(Buffer.from(udp.subarray(8)));
    const pseudo = sum16(ip.subarray(12, 20)) + 17 + udp.length;
    const field = udp.readUInt16BE(6);
    if (fold(sum16(udp, pseudo)) === 0xffff) v.complete++;
    else if (field === fold(pseudo)) v.partial++;
    else v.bad++;
  }
  return v;
}
