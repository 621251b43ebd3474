// Connection-rate driver: compiles bench/tools/connrate.c with the machine's C compiler into a
// temp dir once per invocation, and runs its client in the client pod. Node's net module tops
// out far below the kernel's connection rate, so it would measure itself, not the path.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox';
import { repoRoot } from '../../src/sandbox/paths';

let binary: string | undefined;
let tmpDir: string | undefined;

/** Path of the compiled tool; compiles it on first use. */
export function connrateBinary(): string {
  if (binary) return binary;
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'podnet-bench-'));
  const out = path.join(tmpDir, 'connrate');
  const src = path.join(repoRoot(), 'bench/tools/connrate.c');
  const cc = process.env.CC ?? 'cc';
  execFileSync(cc, ['-O2', '-Wall', '-pthread', '-o', out, src], { stdio: ['ignore', 'ignore', 'inherit'] });
  binary = out;
  return out;
}

export function removeConnrateBinary(): void {
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = binary = undefined;
}

export interface ConnrateResult {
  connections: number;
  errors: number;
  seconds: number;
  perSec: number;
}

/** CLIENTS threads in one process hammer HOST:PORT for SECONDS. */
export async function connrate(sb: Sandbox, ns: string, host: string, port: number, clients: number, seconds: number): Promise<ConnrateResult> {
  const { stdout } = await sb.exec(ns, [connrateBinary(), 'client', host, String(port), String(clients), String(seconds)],
    { timeoutMs: (seconds + 30) * 1000 });
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ConnrateResult;
  // A handful of errors is a reset under load; a tenth of the traffic failing is a broken path.
  if (r.errors > r.connections / 10) throw new Error(`connrate to ${host}:${port}: ${r.errors} errors, ${r.connections} ok`);
  return r;
}
