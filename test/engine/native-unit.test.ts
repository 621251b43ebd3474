// The engine's C++ unit tests (native/test, googletest): Maglev, NetworkPolicy decisions,
// range sets, checksums, the flow table, and the first packet of a flow traced and sent
// through the whole engine. run.sh builds them with the addon's warning flags and again under
// ASan + UBSan and runs both; every gtest case is its own assertion here, named, so a failure
// says which. Needs g++, make and libgtest-dev (scripts/setup.sh), no root.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { haveCommand, requires } from '../helpers/privileged';

const root = path.resolve(__dirname, '../..');

interface GtestCase { name: string; status: string; result: string; failures?: { failure: string }[] }
interface GtestReport { tests: number; failures: number; testsuites: { name: string; testsuite: GtestCase[] }[] }

const tools = {
  'g++': () => haveCommand('g++'),
  make: () => haveCommand('make'),
  'libgtest-dev': () => fs.existsSync('/usr/include/gtest/gtest.h'),
};

t.test('native unit tests (googletest), plain and under ASan + UBSan', requires(tools), async (t) => {
  // Objects are kept between runs (the Makefile tracks header dependencies), one directory per
  // checkout: objects of another checkout's sources can look newer than this one's.
  const tag = createHash('sha256').update(root).digest('hex').slice(0, 8);
  const out = path.join(os.tmpdir(), `podnet-native-unit-${process.getuid?.() ?? 0}-${tag}`);
  for (const f of ['plain.json', 'sanitize.json']) fs.rmSync(path.join(out, f), { force: true });
  const r = spawnSync('bash', [path.join(root, 'native/test/run.sh'), out], {
    encoding: 'utf8', timeout: 1500 * 1000, maxBuffer: 64 << 20, // two g++ builds on a loaded machine
  });
  const log = `${r.stdout}\n${r.stderr}`;
  for (const build of ['plain', 'sanitize']) {
    const file = path.join(out, `${build}.json`);
    if (!fs.existsSync(file)) {
      t.fail(`${build}: no gtest report (build or run failed):\n${log.slice(-6000)}`);
      continue;
    }
    const report = JSON.parse(fs.readFileSync(file, 'utf8')) as GtestReport;
    t.ok(report.tests > 0, `${build}: ${report.tests} gtest cases ran`);
    for (const suite of report.testsuites) {
      for (const c of suite.testsuite) {
        const why = (c.failures ?? []).map((f) => f.failure).join('\n');
        t.ok(c.status === 'RUN' && c.result === 'COMPLETED' && !c.failures?.length, `${build}: ${suite.name}.${c.name}`,
          why ? { gtest: why } : {});
      }
    }
  }
  t.equal(r.status, 0, `run.sh exits cleanly${r.status ? `:\n${log.slice(-6000)}` : ''}`);
  t.notMatch(log, /ERROR: AddressSanitizer|runtime error:|LeakSanitizer/, 'no sanitizer report');
});
