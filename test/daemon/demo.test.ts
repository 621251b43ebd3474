// `npm run demo` end to end, as CI runs it: it must finish with exit
// 0, spread requests over every endpoint, send nothing to the removed one, and leave no
// namespace of its sandbox behind.
import t from 'tap';
import { runStatus } from '../../src/netns/exec';
import { listNetns } from '../../src/sandbox/naming';
import { distFile } from '../../src/sandbox/paths';
import { isRoot, requires } from '../helpers/privileged';
import { daemonEnv } from './fixtures';

t.test('npm run demo', requires({ root: isRoot }), async (t) => {
  const r = await runStatus(null, [process.execPath, distFile('src/demo/main.js')], { timeoutMs: 180_000, env: daemonEnv() });
  t.equal(r.exitCode, 0, `exit 0${r.exitCode ? `: ${r.stderr.slice(-1500)}` : ''}`);
  t.match(r.stdout, /^done\.$/m);
  const after = r.stdout.split('4. web2 leaves')[1] ?? '';
  t.match(after, /^\s+web2\s+0\s*$/m, 'nothing reaches the removed endpoint');
  t.notMatch(r.stdout, /errors: \{/, 'no request failed');
  const id = /node namespace (pn[0-9a-f]{4})-node/.exec(r.stdout)?.[1];
  t.ok(id, 'sandbox id printed');
  t.same(listNetns().filter((n) => n.startsWith(`${id}-`)), [], 'its namespaces are gone');
});
