// The fast-path loader (native/fastpath) against a real kernel, all inside namespaces this
// test creates, with pins on a bpffs mounted in its own temp dir:
//  - the googletest suites (plain and ASan/UBSan): load, pin, re-open reuse, tcx/clsact
//    attach and detach, map access;
//  - real traffic through the cache: client pod -> VIP -> backend pod with redirect_peer
//    both ways, UDP with sender checksum offload off (complete checksums) and on
//    (CHECKSUM_PARTIAL, the case BPF_PROG_TEST_RUN cannot build), in tcx and clsact mode;
//    TCP whose handshake takes the slow path (SYN punted, nftables DNAT in the node
//    namespace) while the cached entries carry a byte-exact transfer;
//  - a deleted pod: flush + detach leave no entry and no attachment for its ifindex.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { haveCommand } from '../helpers/privileged';
import { udpChecksums } from './checksums';
import { build, OBJ } from './testrun';
import { buildAll, GTEST, GTEST_ASAN, needsNamespaces, nstat, Topology, VIP } from './topology';
import { exited, natArgs, ready, TCP_CLIENT, tcpSink, UDP_CLIENT, UDP_ECHO } from './traffic';

const needs = needsNamespaces({
  tcpdump: () => haveCommand('tcpdump'),
  nstat: () => haveCommand('nstat'),
  ethtool: () => haveCommand('ethtool'),
});

// Built once for both tests.
let built: { b: ReturnType<typeof build>; g: ReturnType<typeof buildAll> } | undefined;
const buildOnce = () => (built ??= { b: build(), g: buildAll() });

t.test('googletest suites in a test namespace', needs, async (t) => {
  const { b, g } = buildOnce();
  t.ok(b.ok, `native/bpf/build.sh${b.ok ? '' : `:\n${b.output}`}`);
  t.ok(g.ok, `native/fastpath/test/run.sh --build-only${g.ok ? '' : `:\n${g.output}`}`);
  if (!b.ok || !g.ok) return;
  const topo = new Topology();
  try {
    topo.up();
    for (const bin of [GTEST, GTEST_ASAN]) {
      const dir = path.join(topo.pins, path.basename(bin));
      fs.mkdirSync(dir);
      let out = '';
      let ok = true;
      try {
        out = topo.inNode(bin, '--netns', topo.node, '--object', OBJ, '--pins', dir);
      } catch (e) {
        ok = false;
        out = String((e as { stdout?: string }).stdout ?? e);
      }
      t.ok(ok, `${path.basename(bin)} exits 0`);
      t.match(out, /\[ {2}PASSED {2}\] \d+ tests?\./, `${path.basename(bin)}: ${/\[=+\] (\d+ tests? .*) ran/.exec(out)?.[1] ?? out.slice(-2000)}`);
    }
    t.equal(topo.inNode('ip', '-o', 'link', 'show').trim().split('\n').length, 1, 'the suites left only lo behind');
  } finally {
    topo.close();
  }
});

t.test('traffic through the cache between two pods', needs, async (t) => {
  if (!buildOnce().b.ok || !buildOnce().g.ok) { t.fail('build'); return; }
  const topo = new Topology();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${topo.prefix}-`));
  try {
    topo.up();
    const { client, backend } = topo.clientAndBackend();
    const stats = () => topo.stats();

    const modes = topo.fpctlJson<{ mode: string }>('attach', client.host, backend.host);
    t.same(modes.map((m) => m.mode), ['tcx', 'tcx'], 'tcx on this kernel');
    topo.fpctl('pod', client.host, client.mac, client.ip);
    topo.fpctl('pod', backend.host, backend.mac, backend.ip);

    const echo = topo.spawnIn(backend.ns, ['node', '-e', UDP_ECHO, '8080']);
    await ready(echo);

    /** N datagrams client -> VIP -> backend and back, with captures on both pods. */
    const udpRound = async (label: string, sport: number, txOffload: boolean, n = 100) => {
      for (const p of [client, backend]) topo.in(p.ns, 'ethtool', '-K', 'eth0', 'tx', txOffload ? 'on' : 'off');
      topo.fpctl('nat', ...natArgs('udp', client, sport, backend, 8080));
      const before = stats();
      const caps = [
        { pod: backend, filter: 'udp and dst port 8080', file: path.join(tmp, `${label}-b.pcap`) },
        { pod: client, filter: 'udp and src port 80', file: path.join(tmp, `${label}-a.pcap`) },
      ].map((c) => ({ ...c, proc: topo.spawnIn(c.pod.ns, ['tcpdump', '-U', '-n', '-i', 'eth0', '-c', String(n), '-w', c.file, c.filter]) }));
      await Promise.all(caps.map((c) => ready(c.proc, 'listening')));
      const res = JSON.parse(topo.in(client.ns, 'node', '-e', UDP_CLIENT, VIP, String(n), String(sport)));
      await Promise.all(caps.map((c) => Promise.race([exited(c.proc), new Promise((r) => setTimeout(r, 3000))])));
      t.same(res, { ok: n, bad: [] }, `${label}: every echo came back from ${VIP}:80 byte for byte`);
      const after = stats();
      t.ok(after.hit_peer - before.hit_peer >= 2 * n, `${label}: ${after.hit_peer - before.hit_peer} redirect_peer hits for ${2 * n} datagrams`);
      t.equal(after.miss - before.miss, 0, `${label}: no misses`);
      for (const c of caps) {
        const v = udpChecksums(c.file);
        t.equal(v.packets, n, `${label}: ${n} rewritten datagrams captured in ${c.pod.ns}`);
        t.equal(v.bad, 0, `${label}: no bad checksum in ${c.pod.ns} (${v.complete} complete, ${v.partial} partial)`);
        if (txOffload) t.ok(v.partial > 0, `${label}: the datagrams arrived CHECKSUM_PARTIAL in ${c.pod.ns}`);
        else t.equal(v.complete, n, `${label}: every checksum complete and valid in ${c.pod.ns}`);
      }
      for (const p of [client, backend]) t.equal(nstat(topo, p.ns, 'UdpInCsumErrors'), 0, `${label}: UdpInCsumErrors 0 in ${p.ns}`);
      topo.fpctl('unnat', ...natArgs('udp', client, sport, backend, 8080));
    };

    await udpRound('tcx, tx offload off', 40000, false);
    await udpRound('tcx, tx offload on', 40001, true);

    const { file: dataFile, want, sink } = await tcpSink(topo, backend, tmp, 4 << 20);
    const tcpRound = (label: string, sport: number, txOffload: boolean) => {
      for (const p of [client, backend]) topo.in(p.ns, 'ethtool', '-K', 'eth0', 'tx', txOffload ? 'on' : 'off');
      topo.fpctl('nat', ...natArgs('tcp', client, sport, backend, 8080));
      const before = stats();
      const got = JSON.parse(topo.in(client.ns, 'node', '-e', TCP_CLIENT, VIP, String(sport), dataFile));
      const after = stats();
      t.same(got, want, `${label}: 4 MiB arrived byte-exact (sha256)`);
      t.ok(after.punt_tcp_syn - before.punt_tcp_syn >= 1, `${label}: the SYN took the slow path`);
      t.ok(after.hit_peer - before.hit_peer > 100, `${label}: ${after.hit_peer - before.hit_peer} segments through the cache`);
      const flows = topo.fpctlJson<{ ifindex: number; packets: number; tcp_flags: number }>('sweep');
      const fwd = flows.find((f) => f.ifindex === client.hostIfindex);
      t.ok(fwd && fwd.packets > 0 && (fwd.tcp_flags & 1) === 1, `${label}: the sweep shows the client's packets and its FIN`);
      const rev = flows.find((f) => f.ifindex === backend.hostIfindex);
      t.ok(rev && (rev.tcp_flags & 0x12) === 0x12, `${label}: the SYN-ACK went through the cache (its entry saw SYN|ACK)`);
      for (const p of [client, backend]) t.equal(nstat(topo, p.ns, 'TcpInCsumErrors'), 0, `${label}: TcpInCsumErrors 0 in ${p.ns}`);
      topo.fpctl('unnat', ...natArgs('tcp', client, sport, backend, 8080));
    };
    tcpRound('TCP, tx offload off', 41000, false);
    tcpRound('TCP, tx offload on (GSO through the cache)', 41001, true);

    // The same UDP check in clsact mode: re-attaching with --clsact moves both devices over.
    const cls = topo.fpctlJson<{ mode: string }>('--clsact', 'attach', client.host, backend.host);
    t.same(cls.map((m) => m.mode), ['clsact', 'clsact'], 'clsact when forced');
    const att = topo.fpctlJson<{ mode: string }>('attachments');
    t.same(att.map((a) => a.mode).sort(), ['clsact', 'clsact'], 'the tcx links are gone: one attachment per device');
    await udpRound('clsact, tx offload off', 40002, false);
    await udpRound('clsact, tx offload on', 40003, true);

    // A deleted pod: its veth goes, the engine flushes its ifindex and detaches.
    topo.fpctl('nat', ...natArgs('udp', client, 40004, backend, 8080));
    topo.fpctl('--clsact', 'attach', client.host, backend.host);
    echo.kill();
    sink.kill();
    topo.deletePod(backend);
    const flushed = topo.fpctlJson<{ removed: number }>('flush', String(backend.hostIfindex))[0];
    t.equal(flushed.removed, 2, 'the flush removed both directions of the flow through the backend');
    topo.fpctl('detach', String(backend.hostIfindex));
    const left = topo.fpctlJson<{ ifindex: number; target: number }>('sweep');
    t.notOk(left.some((f) => f.ifindex === backend.hostIfindex || f.target === backend.hostIfindex), 'no cache entry for the deleted pod');
    const attached = topo.fpctlJson<{ ifindex: number }>('attachments');
    t.same(attached.map((a) => a.ifindex), [client.hostIfindex], 'only the client pod is still attached');
  } finally {
    topo.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
