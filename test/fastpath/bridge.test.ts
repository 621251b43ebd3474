// The flow cache on podnet's own wiring, against a real kernel, all inside namespaces this
// test creates (pins on a bpffs in its own temp dir): pods on a bridge with isolated ports and
// proxy ARP, the gateway address on the bridge (topology.ts, bridge wiring). A pod's frames
// reach its host veth's tc ingress addressed to the bridge's MAC, so the kernel marks them
// PACKET_OTHERHOST there; a redirect_peer hit must still be delivered by the target pod's IP
// stack, which drops PACKET_OTHERHOST (the program sets PACKET_HOST; kernels from 6.15 also
// reset it when they scrub the skb on redirect_peer, so there this shows no difference).
//  - ARP from the pods passes the program's anti-spoofing and resolves the gateway to the bridge;
//  - UDP and TCP through a cached VIP flow: redirect_peer hits, payload byte-exact;
//  - punts and misses return TC_ACT_UNSPEC: a u32 filter after the program still sees them,
//    while hits never reach it (tcx: TCX_NEXT then legacy tc; clsact: the next filter);
//  - a pod's tagged frames (the tag moved out of the frame by the receive path) and an ARP
//    claiming another pod's address are dropped; the pods' own ARP, DAD, router solicitations
//    and MLD reports never are.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { haveCommand } from '../helpers/privileged';
import { ip } from '../helpers/packets';
import { arpRequest, frame, tagged } from './frames';
import { build } from './testrun';
import { BRIDGE, BRIDGE_MAC, buildAll, GW, needsNamespaces, Topology, VIP } from './topology';
import { natArgs, ready, TCP_CLIENT, tcpSink, UDP_CLIENT, UDP_ECHO } from './traffic';

const needs = needsNamespaces({
  tc: () => haveCommand('tc'),
  python3: () => haveCommand('python3'),
});

const SINK = 'pnsink';
const RAW_SEND = `import socket,sys
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)
s.bind((sys.argv[1],0))
for h in sys.argv[2:]: s.send(bytes.fromhex(h))`;
const UDP_ONE = `require('dgram').createSocket('udp4').send(Buffer.from('miss'),+process.argv[2],process.argv[1],()=>process.exit(0));`;

t.test('traffic through the cache between two pods on a bridge', needs, async (t) => {
  const b = build();
  const g = buildAll();
  t.ok(b.ok && g.ok, `builds${b.ok && g.ok ? '' : `:\n${b.output}\n${g.output}`}`);
  if (!b.ok || !g.ok) return;
  const topo = new Topology('bridge');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${topo.prefix}-`));
  try {
    topo.up();
    const { client, backend } = topo.clientAndBackend();
    const stats = () => topo.stats();
    const nat = (proto: 'udp' | 'tcp', sport: number, bport: number) => natArgs(proto, client, sport, backend, bport, BRIDGE);

    t.same(topo.fpctlJson<{ mode: string }>('attach', client.host, backend.host).map((m) => m.mode), ['tcx', 'tcx'], 'tcx');
    topo.fpctl('pod', client.host, client.mac, client.ip);
    topo.fpctl('pod', backend.host, backend.mac, backend.ip);

    // ARP through the program's anti-spoofing: the gateway resolves to the bridge.
    for (const p of [client, backend]) {
      topo.in(p.ns, 'ping', '-c1', '-W2', GW);
      const neigh = JSON.parse(topo.in(p.ns, 'ip', '-j', 'neigh', 'show', GW, 'dev', 'eth0'))[0];
      t.equal(neigh?.lladdr, BRIDGE_MAC, `${p.ns}: the gateway is the bridge's MAC`);
    }
    t.ok(stats().spoof_allowed_arp_nd >= 2, 'the pods\' ARP passed anti-spoofing');

    const echo = topo.spawnIn(backend.ns, ['node', '-e', UDP_ECHO, '8080']);
    await ready(echo);
    const udpRound = (label: string, sport: number, n = 50) => {
      topo.fpctl('nat', ...nat('udp', sport, 8080));
      const before = stats();
      const res = JSON.parse(topo.in(client.ns, 'node', '-e', UDP_CLIENT, VIP, String(n), String(sport)));
      const after = stats();
      t.same(res, { ok: n, bad: [] }, `${label}: every echo came back from ${VIP}:80 byte for byte`);
      t.ok(after.hit_peer - before.hit_peer >= 2 * n, `${label}: ${after.hit_peer - before.hit_peer} redirect_peer hits for ${2 * n} datagrams`);
      t.equal(after.miss - before.miss, 0, `${label}: no misses`);
      topo.fpctl('unnat', ...nat('udp', sport, 8080));
    };
    udpRound('UDP, tcx', 40000);

    const tcp = await tcpSink(topo, backend, tmp, 1 << 20);
    topo.fpctl('nat', ...nat('tcp', 41000, 8080));
    const before = stats();
    const got = JSON.parse(topo.in(client.ns, 'node', '-e', TCP_CLIENT, VIP, '41000', tcp.file));
    const after = stats();
    t.same(got, tcp.want, 'TCP: 1 MiB arrived byte-exact (sha256)');
    t.ok(after.punt_tcp_syn - before.punt_tcp_syn >= 1, 'TCP: the SYN took the slow path');
    t.ok(after.hit_peer - before.hit_peer > 20, `TCP: ${after.hit_peer - before.hit_peer} segments through the cache`);

    // A u32 filter after the program drops everything to the VIP (mirred to a veth that is
    // never set up, which drops and counts: no act_gact on this kernel): it must see a miss,
    // never a hit.
    topo.inNode('ip', 'link', 'add', SINK, 'type', 'veth', 'peer', 'name', `${SINK}p`);
    topo.inNode('tc', 'qdisc', 'add', 'dev', client.host, 'clsact');
    topo.inNode('tc', 'filter', 'add', 'dev', client.host, 'ingress', 'pref', '30000', 'protocol', 'ip', 'u32',
      'match', 'ip', 'dst', `${VIP}/32`, 'action', 'mirred', 'egress', 'redirect', 'dev', SINK);
    const filtered = () => {
      const list = JSON.parse(topo.inNode('tc', '-s', '-j', 'filter', 'show', 'dev', client.host, 'ingress')) as { pref?: number; options?: { actions?: { stats?: { packets?: number } }[] } }[];
      return list.filter((f) => f.pref === 30000).reduce((n, f) => n + (f.options?.actions?.[0]?.stats?.packets ?? 0), 0);
    };
    const chain = (mode: string, sport: number, missPort: number) => {
      const f0 = filtered();
      udpRound(`UDP, ${mode}, u32 filter behind the program`, sport, 20);
      t.equal(filtered() - f0, 0, `${mode}: the hits never reached the u32 filter`);
      const m0 = stats().miss;
      topo.in(client.ns, 'node', '-e', UDP_ONE, VIP, String(missPort));
      t.equal(stats().miss - m0, 1, `${mode}: one miss`);
      t.equal(filtered() - f0, 1, `${mode}: the miss went on to the u32 filter (TC_ACT_UNSPEC)`);
    };
    chain('tcx', 40001, 81);
    t.same(topo.fpctlJson<{ mode: string }>('--clsact', 'attach', client.host, backend.host).map((m) => m.mode), ['clsact', 'clsact'], 'clsact when forced');
    chain('clsact', 40002, 82);

    // Lies on the wire, sent raw from the client pod (no 8021q module for a VLAN device here):
    // tagged frames, whose tag the receive path moves out of the frame before tc (skb->vlan_*),
    // and an ARP claiming the backend's address.
    const lies = [
      tagged(frame(BRIDGE_MAC, client.mac, ip(client.ip, VIP, { proto: 'udp', sport: 40009, dport: 80, payload: Buffer.from('tag') }))),
      tagged(frame(BRIDGE_MAC, client.mac, ip(client.ip, VIP, { proto: 'udp', sport: 40009, dport: 80, payload: Buffer.from('prio') })), 0x8100, 0),
      arpRequest(client.mac, backend.ip, GW),
    ];
    const s0 = topo.fpctlJson<Record<string, number>>('spoof', client.host)[0];
    topo.in(client.ns, 'python3', '-c', RAW_SEND, 'eth0', ...lies.map((f) => f.toString('hex')));
    const s1 = topo.fpctlJson<Record<string, number>>('spoof', client.host)[0];
    t.equal(s1.vlan_tagged - s0.vlan_tagged, 2, 'tagged frames (802.1Q, priority tag) dropped as vlan_tagged');
    t.equal(s1.arp_sender - s0.arp_sender, 1, 'ARP for the backend\'s address dropped as arp_sender');
    t.same(s0, { src_mac: 0, src_ipv4: 0, src_ipv6: 0, arp_sender: 0, ipv6_na_target: 0, ipv6_ext_header: 0, vlan_tagged: 0 },
      'the pods\' own traffic (ARP, IPv6 DAD, router solicitations, MLD reports) was never taken for a lie');
  } finally {
    topo.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
