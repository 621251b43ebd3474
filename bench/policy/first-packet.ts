// First-packet cost vs policy count (it must stay flat as policies are added): crafted
// TCP SYNs between random pods of the synthetic cluster (world.ts: 5,000 pods) through the
// engine's no-root Engine.process(), with no policy tables, then with the compiled tables of 1,
// 100 and 10,000 policies (whole cluster: every pod has an entry, the worst case). Every SYN is a
// new 5-tuple, so each one is a flow's first packet: parse → policy (both ends) → flow insert,
// or a policy drop. The figure includes the N-API call per packet (the same in every row), so
// the difference to the no-policy row is what policy adds.
//
//   node dist/bench/policy/first-packet.js                # 5,000 pods; 0, 1, 100, 10,000 policies
//   node dist/bench/policy/first-packet.js 20000 200000   # pods, SYNs per round
import { Engine } from '../../src/engine';
import type { PolicyTables } from '../../src/engine/types';
import { compilePolicy } from '../../src/policy/compile';
import { tableSizes } from '../../src/policy/explain';
import { podIP, world } from './world';

const PORTS = [80, 8080, 9090, 5432, 53];
const ROUNDS = 7;

function sum16(b: Buffer, off: number, len: number, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < len; i += 2) s += b.readUInt16BE(off + i);
  if (len & 1) s += b[off + len - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

/** IPv4 + TCP SYN with valid checksums. */
function syn(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x45;
  b.writeUInt16BE(40, 2);
  b.writeUInt16BE(0x4000, 6);
  b[8] = 64;
  b[9] = 6;
  src.split('.').forEach((x, i) => { b[12 + i] = Number(x); });
  dst.split('.').forEach((x, i) => { b[16 + i] = Number(x); });
  b.writeUInt16BE(~sum16(b, 0, 20) & 0xffff, 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b.writeUInt32BE(1, 24);
  b[32] = 5 << 4;
  b[33] = 0x02; // SYN
  b.writeUInt16BE(65535, 34);
  const pseudo = sum16(b, 12, 8) + 6 + 20;
  b.writeUInt16BE(~sum16(b, 20, 20, pseudo) & 0xffff, 36);
  return b;
}

/** `count` SYNs between random pods, every one a distinct 5-tuple (xorshift: the same packets each run). */
function packets(pods: number, count: number, seed: number): Buffer[] {
  let x = seed >>> 0 || 1;
  const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const s = rnd() % pods;
    let d = rnd() % pods;
    if (d === s) d = (d + 1) % pods;
    out.push(syn(podIP(s), podIP(d), 1024 + (k % 64000), PORTS[rnd() % PORTS.length]));
  }
  return out;
}

interface Config { label: string; tables?: PolicyTables }
interface Row { label: string; nsPerPacket: number[]; forward: number; drop: number; sizes?: ReturnType<typeof tableSizes> }

/** One timed pass on a fresh engine (the same tuples must be first packets again). */
function pass(tables: PolicyTables | undefined, warm: Buffer[], pkts: Buffer[]): number {
  const e = new Engine({ flowCapacity: 1 << 20 });
  try {
    if (tables) e.setPolicy(tables);
    for (const p of warm) e.process(p);
    const t0 = process.hrtime.bigint();
    for (const p of pkts) e.process(p);
    return Number(process.hrtime.bigint() - t0) / pkts.length;
  } finally {
    e.close();
  }
}

function verdicts(tables: PolicyTables | undefined, pkts: Buffer[]): { forward: number; drop: number } {
  const e = new Engine({ flowCapacity: 1 << 20 });
  let forward = 0, drop = 0;
  try {
    if (tables) e.setPolicy(tables);
    for (const p of pkts) { if (e.process(p).verdict === 'forward') forward++; else drop++; }
  } finally {
    e.close();
  }
  return { forward, drop };
}

/** Rounds interleave the configurations, so load drifting on a shared machine hits all of them alike. */
function run(configs: Config[], warm: Buffer[], pkts: Buffer[]): Row[] {
  const rows: Row[] = configs.map((c) => ({ label: c.label, nsPerPacket: [], ...verdicts(c.tables, pkts), ...(c.tables ? { sizes: tableSizes(c.tables) } : {}) }));
  for (let r = 0; r < ROUNDS; r++) configs.forEach((c, i) => rows[i].nsPerPacket.push(pass(c.tables, warm, pkts)));
  for (const row of rows) row.nsPerPacket.sort((a, b) => a - b);
  return rows;
}

function main(): void {
  const [podsArg, countArg] = process.argv.slice(2).map(Number);
  const pods = Number.isInteger(podsArg) && podsArg > 1 ? podsArg : 5000;
  const count = Number.isInteger(countArg) && countArg > 0 ? countArg : 100_000;
  console.log(`NetworkPolicy first-packet cost: ${pods} pods, ${count} SYNs per round (distinct 5-tuples), median of ${ROUNDS} rounds (node ${process.version})`);
  const warm = packets(pods, 20_000, 7);
  const pkts = packets(pods, count, 42);
  const configs: Config[] = [{ label: 'no policy tables' }, ...[1, 100, 10_000].map((n) => ({ label: `${n} policies`, tables: compilePolicy(world(n, pods)) }))];
  const rows = run(configs, warm, pkts);
  const base = rows[0].nsPerPacket[Math.floor(ROUNDS / 2)];
  for (const r of rows) {
    const med = r.nsPerPacket[Math.floor(ROUNDS / 2)];
    const s = r.sizes ? `isolated ${r.sizes.isolated} sets ${r.sizes.ruleSets} rules ${r.sizes.rules} peers ${r.sizes.peers}` : '';
    console.log(`${r.label.padEnd(18)} ${med.toFixed(0).padStart(6)} ns/first packet  (min ${r.nsPerPacket[0].toFixed(0)}, max ${r.nsPerPacket[ROUNDS - 1].toFixed(0)})  ` +
      `+${(med - base).toFixed(0).padStart(4)} ns vs none  ${(med / base).toFixed(2)}×  forward ${r.forward} drop ${r.drop}  ${s}`);
  }
}

main();
