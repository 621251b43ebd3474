#!/usr/bin/env node
// Runs the tap suite and ends with the one line CI reads: "N passed, N failed".
// The counts come from tap's own closing summary of this very run.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const tapBin = path.join(path.dirname(require.resolve('tap/package.json')), 'dist/esm/run.mjs');
const args = process.argv.slice(2);
const child = spawn(process.execPath, [tapBin, '-R', 'tap', ...args], { stdio: ['inherit', 'pipe', 'inherit'] });

let summary = null;
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
  const m = [...tail.matchAll(/^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?(?:, todo: (\d+))?/gm)].pop();
  if (m) summary = { total: +m[1], pass: +(m[2] ?? 0), fail: +(m[3] ?? 0), skip: +(m[4] ?? 0) };
});
child.on('close', (code) => {
  const passed = summary ? summary.pass : 0;
  let failed = summary ? summary.fail : 1;
  if (summary && summary.skip) console.log(`(${summary.skip} skipped)`);
  if (code !== 0 && failed === 0) failed = 1; // tap failed without counting it (crash, timeout)
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? 1);
});
