// NetworkPolicy compile benchmark: compile time of 1, 100 and 10,000
// policies over 5,000 pods in 50 namespaces, from normalized objects (validation excluded, as an
// informer cache would hold them validated), for the whole cluster (every pod gets an entry: the
// worst case) and for one node's share (nodeName: 100 pods, what podnetd compiles).
//
//   node dist/bench/policy/compile.js              # 1, 100, 10000 policies × 5000 pods
//   node dist/bench/policy/compile.js 2000 20000   # custom policies × pods
//
// Each policy selects ~5 pods by app label; ingress from another app (pod selector), from client
// pods of a team (namespace + pod selector) on 80, a named port and a UDP range; every 4th policy
// also has egress to a team's pods on a named port plus DNS; every 10th is a namespace default deny.
import type { PolicyTables } from '../../src/engine/types';
import { compilePolicy, type PolicyInput } from '../../src/policy/compile';
import { tableSizes } from '../../src/policy/explain';
import { NAMESPACES, world } from './world';

function measure(input: PolicyInput, runs: number): { ms: number[]; tables: PolicyTables } {
  let tables = compilePolicy(input); // warm-up (JIT), not counted
  for (let w = 0; w < 3; w++) tables = compilePolicy(input);
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    tables = compilePolicy(input);
    ms.push(performance.now() - t0);
  }
  return { ms: ms.sort((a, b) => a - b), tables };
}

function row(label: string, input: PolicyInput, runs: number): void {
  const { ms, tables } = measure(input, runs);
  const s = tableSizes(tables);
  const bytes = JSON.stringify(tables).length;
  const med = ms[Math.floor(ms.length / 2)];
  console.log(`${label.padEnd(34)} median ${med.toFixed(1).padStart(8)} ms  min ${ms[0].toFixed(1).padStart(8)} ms  ` +
    `pods ${s.pods} isolated ${s.isolated} sets ${s.ruleSets} rules ${s.rules} peers ${s.peers} json ${(bytes / 1e6).toFixed(2)} MB`);
}

function main(): void {
  const args = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const pods = args[1] ?? 5000;
  const counts = args.length ? [args[0]] : [1, 100, 10_000];
  console.log(`NetworkPolicy compile: ${pods} pods in ${NAMESPACES} namespaces (node ${process.version})`);
  for (const n of counts) {
    const w = world(n, pods);
    const runs = n >= 10_000 ? 5 : 11;
    row(`${n} policies, whole cluster`, w, runs);
    row(`${n} policies, one node (nodeName)`, { ...w, nodeName: 'node-0' }, runs);
  }
}

main();
