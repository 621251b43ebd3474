// Runs the libFuzzer target (native/fuzz) for a short while, seeded with every engine
// fixture packet: the parsers and the pipeline must survive arbitrary mutations of real
// packets under ASan+UBSan. `npm run fuzz -- 600` runs it longer by hand.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURES } from './fixtures';
import { haveCommand, requires } from '../helpers/privileged';

const root = path.resolve(__dirname, '../..');
const seconds = Number(process.env.PODNET_FUZZ_SECONDS ?? 20);

t.test(`pipeline fuzzer for ${seconds} s`, requires({ 'clang++ with libFuzzer': () => haveCommand('clang++') }), async (t) => {
  const seeds = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-seeds-'));
  t.teardown(() => fs.rmSync(seeds, { recursive: true, force: true }));
  FIXTURES.forEach((f, i) => {
    const mode = Buffer.from([f.vnet ? 1 : 0]);
    fs.writeFileSync(path.join(seeds, `fixture-${i}`), Buffer.concat([mode, f.vnet ?? Buffer.alloc(0), f.input]));
  });
  const r = spawnSync('bash', [path.join(root, 'native/fuzz/run.sh'), String(seconds), seeds], {
    encoding: 'utf8', timeout: (seconds + 600) * 1000, maxBuffer: 64 << 20, // the clang build takes minutes on a loaded 2-CPU machine
  });
  const out = `${r.stdout}\n${r.stderr}`;
  const runs = /stat::number_of_executed_units:\s+(\d+)/.exec(out)?.[1];
  t.equal(r.status, 0, `fuzzer exits cleanly${r.status ? `:\n${out.slice(-4000)}` : ''}`);
  t.notMatch(out, /ERROR: (AddressSanitizer|libFuzzer)|runtime error:/, 'no sanitizer or fuzzer finding');
  t.ok(Number(runs) > 10000, `executed ${runs} inputs`);
});
