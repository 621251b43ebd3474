// The engine fixtures again, against the ASan+UBSan build (scripts/build-asan.sh): any
// out-of-bounds access, use-after-free or undefined behaviour in the packet path fails here.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requires } from '../helpers/privileged';

const root = path.resolve(__dirname, '../..');
const addon = path.join(root, 'build-asan/build/Release/podnet_engine.node');
const libasan = (() => {
  try { return execFileSync('gcc', ['-print-file-name=libasan.so']).toString().trim(); } catch { return ''; }
})();

t.test('engine fixtures under ASan+UBSan', requires({
  'the sanitizer build (npm run build:asan)': () => fs.existsSync(addon),
  'libasan (gcc)': () => fs.existsSync(libasan),
}), async (t) => {
  const tap = path.join(root, 'node_modules/tap/dist/esm/run.mjs');
  const r = spawnSync(process.execPath, [tap, '-R', 'terse', '--disable-coverage',
    'test/engine/pipeline.test.ts', 'test/engine/flows.test.ts', 'test/engine/policy.test.ts', 'test/engine/cut-flows.test.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
    env: {
      ...process.env,
      PODNET_ADDON: addon,
      LD_PRELOAD: libasan,
      ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:detect_odr_violation=0',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  t.notMatch(out, /ERROR: AddressSanitizer/, 'no AddressSanitizer report');
  t.notMatch(out, /runtime error:/, 'no UndefinedBehaviorSanitizer report');
  t.equal(r.status, 0, `fixtures pass under sanitizers${r.status ? `:\n${out.slice(-3000)}` : ''}`);
});
