// The flow cache object attaches the way the data path will use it: as a direct-action
// cls_bpf filter on a clsact qdisc at a veth's ingress. Everything happens inside a network
// namespace this test creates and deletes; nothing is pinned (iproute2 runs inside
// `ip netns exec`, whose private mount namespace holds any bpffs it mounts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { build, OBJ } from './testrun';

const sh = (cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

t.test('tc attaches the program to a veth in a test namespace', requires({
  root: isRoot,
  clang: () => haveCommand('clang'),
  tc: () => haveCommand('tc'),
  'libbpf headers': () => fs.existsSync('/usr/include/bpf/libbpf.h'),
}), async (t) => {
  const b = build();
  t.ok(b.ok, `native/bpf/build.sh${b.ok ? '' : `:\n${b.output}`}`);
  if (!b.ok) return;
  const ns = `pnfp-attach-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const inNs = (...cmd: string[]) => sh(['ip', 'netns', 'exec', ns, ...cmd]);
  sh(['ip', 'netns', 'add', ns]);
  try {
    inNs('ip', 'link', 'add', 'fc-host', 'type', 'veth', 'peer', 'name', 'fc-pod');
    inNs('ip', 'link', 'set', 'fc-host', 'up');
    inNs('ip', 'link', 'set', 'fc-pod', 'up');
    inNs('tc', 'qdisc', 'add', 'dev', 'fc-host', 'clsact');
    inNs('tc', 'filter', 'add', 'dev', 'fc-host', 'ingress', 'bpf', 'da', 'obj', OBJ, 'sec', 'tc');
    const shown = inNs('tc', 'filter', 'show', 'dev', 'fc-host', 'ingress');
    t.match(shown, /podnet_fastpath/, 'the filter shows the program');
    t.match(shown, /direct-action/, 'in direct-action mode');
    t.match(shown, /jited/, 'JIT-compiled');
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
  t.notOk(sh(['ip', 'netns', 'list']).includes(ns), 'the test namespace is gone');
});
