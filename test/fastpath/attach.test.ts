// The flow cache object attaches the way the data path will use it: as a direct-action
// cls_bpf filter on a clsact qdisc at a veth's ingress; on an uplink in clsact mode it runs
// before the steering's u32 filters, and what it punts (TC_ACT_UNSPEC) still reaches them.
// Everything happens inside a network
// namespace this test creates and deletes; nothing is pinned (iproute2 runs inside
// `ip netns exec`, whose private mount namespace holds any bpffs it mounts).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { build, OBJ } from './testrun';

const sh = (cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const needs = requires({
  root: isRoot,
  clang: () => haveCommand('clang'),
  tc: () => haveCommand('tc'),
  'libbpf headers': () => fs.existsSync('/usr/include/bpf/libbpf.h'),
});

/** Builds the object, then runs `fn` with a command runner inside a fresh namespace (deleted after); its name, or undefined when the build failed. */
async function inTestNs(t: Test, prefix: string, fn: (inNs: (...cmd: string[]) => string) => Promise<void> | void): Promise<string | undefined> {
  const b = build();
  t.ok(b.ok, `native/bpf/build.sh${b.ok ? '' : `:\n${b.output}`}`);
  if (!b.ok) return undefined;
  const ns = `pnfp-${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  sh(['ip', 'netns', 'add', ns]);
  try {
    await fn((...cmd: string[]) => sh(['ip', 'netns', 'exec', ns, ...cmd]));
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
  return ns;
}

t.test('tc attaches the program to a veth in a test namespace', needs, async (t) => {
  const ns = await inTestNs(t, 'attach', (inNs) => {
    inNs('ip', 'link', 'add', 'fc-host', 'type', 'veth', 'peer', 'name', 'fc-pod');
    inNs('ip', 'link', 'set', 'fc-host', 'up');
    inNs('ip', 'link', 'set', 'fc-pod', 'up');
    inNs('tc', 'qdisc', 'add', 'dev', 'fc-host', 'clsact');
    inNs('tc', 'filter', 'add', 'dev', 'fc-host', 'ingress', 'bpf', 'da', 'obj', OBJ, 'sec', 'tc');
    const shown = inNs('tc', 'filter', 'show', 'dev', 'fc-host', 'ingress');
    t.match(shown, /podnet_fastpath/, 'the filter shows the program');
    t.match(shown, /direct-action/, 'in direct-action mode');
    t.match(shown, /jited/, 'JIT-compiled');
  });
  if (ns) t.notOk(sh(['ip', 'netns', 'list']).includes(ns), 'the test namespace is gone');
});

t.test('clsact: the program at priority 1 runs before the steering\'s u32 filters, and a punt reaches them', needs, async (t) => {
  await inTestNs(t, 'order', async (inNs) => {
    // up0 plays the uplink (the outside sends from its peer), sink0 the TUN the steering redirects to.
    inNs('ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'out0');
    inNs('ip', 'link', 'add', 'sink0', 'type', 'veth', 'peer', 'name', 'sink1');
    for (const l of ['up0', 'out0', 'sink0', 'sink1']) inNs('ip', 'link', 'set', l, 'up');
    inNs('ip', 'addr', 'add', '192.168.77.10/24', 'dev', 'out0');
    inNs('ip', 'neigh', 'add', '192.168.77.2', 'lladdr', '02:00:00:00:77:02', 'dev', 'out0');
    inNs('tc', 'qdisc', 'add', 'dev', 'up0', 'clsact');
    // The steering's filter first (pref 20000, as src/node/steering.ts), the program after, at
    // the priority the loader gives it: the order of installation must not matter.
    inNs('tc', 'filter', 'add', 'dev', 'up0', 'ingress', 'pref', '20000', 'protocol', 'ip', 'u32', 'match', 'ip', 'protocol', '17', '0xff',
      'action', 'mirred', 'egress', 'redirect', 'dev', 'sink0');
    inNs('tc', 'filter', 'add', 'dev', 'up0', 'ingress', 'pref', '1', 'handle', '1', 'bpf', 'da', 'obj', OBJ, 'sec', 'tc');
    const shown = inNs('tc', 'filter', 'show', 'dev', 'up0', 'ingress');
    const prefs = [...shown.matchAll(/pref (\d+) (\w+)/g)].map((m) => `${m[1]} ${m[2]}`);
    t.same([...new Set(prefs)], ['1 bpf', '20000 u32'], `the program is listed (and run) first: ${[...new Set(prefs)].join(', ')}`);
    // The u32 filter's action counts what it redirected (sink0's own counters also see its
    // IPv6 neighbour discovery).
    const steered = () => Number(/mirred[\s\S]*?Sent \d+ bytes (\d+) pkt/.exec(inNs('tc', '-s', 'filter', 'show', 'dev', 'up0', 'ingress'))?.[1] ?? -1);
    t.equal(steered(), 0, 'nothing steered yet');
    // A UDP datagram with no cache entry: the program misses, returns TC_ACT_UNSPEC, u32 steers it.
    inNs(process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.send('x',30053,'192.168.77.2',()=>s.close())");
    let n = 0;
    for (let i = 0; i < 20 && n < 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      n = steered();
    }
    t.equal(n, 1, 'the missed datagram reached the u32 filter and was redirected');
  });
});
