// Traffic from outside (NodePort, LB IPs, externalIPs) through podnetd itself: nothing wired by hand. The Services are
// real manifests (NodePort, LoadBalancer with status.loadBalancer.ingress, externalIPs, eTP Local
// with healthCheckNodePort, loadBalancerSourceRanges) in podnetd's manifest directory; podnetd's
// config names the uplink (`external.uplinks`) and turns on `engine.egressMasquerade`. podnetd
// reads the uplink's addresses, programs the external specs, installs the tc steering, serves
// the health check ports and moves them as the manifests change, follows a renumbered uplink
// (egress masquerade source, reply steering); `--cleanup` removes the steering.
// The pieces alone are tested in external.test.ts.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { run } from '../../src/netns/exec';
import { Podnetd, Sandbox } from '../../src/sandbox';
import { writeManifest } from '../../src/sandbox/manifests';
import { repoRoot } from '../../src/sandbox/paths';
import { bpffsDir } from '../../src/sandbox/sandbox';
import { BACKEND_HTTP, BACKEND_UDP, eventually, privileged } from './fixtures/helpers';
import { NODE4, NODE6, OUT4, OUT6, UPLINK, addOutside, curl, expectOutsideReach, external, udpWhoami, whoami } from './fixtures/outside';
import { waitForValue, type WaitOptions } from '../helpers/wait';

const LB_WEB = '198.51.100.7', EXT_WEB = '203.0.113.9', LB_LOCAL = '198.51.100.8', LB_DENY = '198.51.100.9', LB_ALLOW = '198.51.100.10', LB_LATE = '198.51.100.11';
const WHOAMI = 9090, HC_PORT = 32000;
/** The uplink's IPv4 address after a renumbering (same subnet). */
const NODE4_NEW = '192.168.50.3';
/** Reconciles through podnetd and the kernel: polled slowly, for long. */
const EXTERNAL: WaitOptions = { timeoutMs: 15_000, everyMs: 200 };

t.test('podnetd drives external traffic from its config and manifests', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const ep1 = await sb.addPod('ep1');
  const ep2 = await sb.addPod('ep2');
  for (const ep of [ep1, ep2]) {
    await sb.serve(ep, 'http-server', BACKEND_HTTP, ep.name);
    await sb.serve(ep, 'udp-server', BACKEND_UDP, ep.name);
  }
  await whoami(sb, ep1, WHOAMI);
  // The uplink and its addresses exist before podnetd starts: it reads them at start.
  const out = await addOutside(sb, [LB_WEB, EXT_WEB, LB_LOCAL, LB_DENY, LB_ALLOW, LB_LATE]);
  await udpWhoami(sb, out.ns, 7000);
  const tcpWho = `require('net').createServer(c=>c.end(c.remoteAddress.replace(/^::ffff:/,'')+' '+c.remotePort)).listen(7001,'::',()=>console.log('listening'))`;
  await sb.spawn(out.ns, [process.execPath, '-e', tcpWho], { readyLine: /^listening$/ });

  const node = sb.nodeNs;
  const http = (nodePort?: number) => ({ name: 'http', port: 80, targetPort: BACKEND_HTTP, ...(nodePort ? { nodePort } : {}) });
  const web = external('web', ['10.96.0.10', 'fd00:10:96::a'],
    [http(30080), { name: 'dns', port: 53, targetPort: BACKEND_UDP, protocol: 'UDP', nodePort: 30053 }], [ep1, ep2], node,
    { externalIPs: [EXT_WEB] }, [LB_WEB]);
  const local = (nodeName: string) => external('local', ['10.96.0.20'], [{ name: 'http', port: 8081, targetPort: WHOAMI, nodePort: 30081 }], [ep1], nodeName,
    { externalTrafficPolicy: 'Local', healthCheckNodePort: HC_PORT }, [LB_LOCAL]);
  const who = external('who', ['10.96.0.50'], [{ name: 'http', port: 80, targetPort: WHOAMI, nodePort: 30085 }], [ep1], node, { type: 'NodePort' });
  const deny = external('deny', ['10.96.0.30'], [http(30082)], [ep1, ep2], node, { loadBalancerSourceRanges: ['192.168.60.0/24'] }, [LB_DENY]);
  const allow = external('allow', ['10.96.0.31'], [http(30084)], [ep1, ep2], node, { loadBalancerSourceRanges: [`${OUT4}/32`] }, [LB_ALLOW]);
  const hair = external('hair', ['10.96.0.40'], [http(30083)], [ep1], node, { type: 'NodePort' });

  // The manifests are there before podnetd starts: its first sync (and steering) has them all.
  const dir = Podnetd.paths(sb).manifests;
  mkdirSync(dir, { recursive: true });
  for (const [f, objs] of [['web', web], ['local', local(node)], ['who', who], ['deny', deny], ['allow', allow], ['hair', hair]] as const) {
    writeManifest(dir, `${f}.yaml`, objs);
  }
  const podnetd = await Podnetd.startManifests(sb, {
    config: {
      external: { uplinks: [UPLINK], nodePortRange: '30000-32767' },
      // The config's engine section replaces the sandbox's: its fast path (when on) named again, so
      // NodePort / LB IP / externalIP flows and egress are carried by the kernel flow cache here too.
      engine: { ...(sb.fastPath ? { fastPath: true, bpffs: bpffsDir(sb.dir) } : {}), egressMasquerade: { enabled: true } },
      sync: { retryIntervalMs: 200 },
    },
  });
  // A crash must not hide behind a passing assertion: stop it explicitly, before the sandbox goes.
  t.teardown(() => podnetd.stop());
  const tcFilters = async () => (await sb.exec(node, ['tc', 'filter', 'show', 'dev', UPLINK, 'ingress'])).stdout;

  const burst = (host: string, port: number, n = 20) => sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number>; remotes: string[] }>(out.ns, 'http-burst', [host, port, n, 2]);

  await t.test('podnetd programmed the external specs and the tc steering at start (no netfilter)', async (t) => {
    const names = (await podnetd.ctl.services()).services.map((s) => s.name);
    for (const n of ['default/web:http (nodePort)', 'default/web:http (loadBalancer)', 'default/web:http (externalIP)', 'default/local:http (loadBalancer)']) t.ok(names.includes(n), n);
    const ready = JSON.parse(podnetd.proc.lines.find((l) => l.includes('"msg":"external traffic steered"')) ?? '{}') as { nodePortIPs?: string[]; healthChecks?: number[] };
    t.same(ready.nodePortIPs, [NODE4, NODE6], 'NodePort addresses: the uplink primary address of each family');
    t.same(ready.healthChecks, [HC_PORT], 'health check port open before ready');
    const f = await tcFilters();
    t.match(f, /action order 1: mirred \(Egress Redirect to device/, 'redirects into the TUN');
    const rules = (await sb.exec(node, ['nft', 'list', 'ruleset'])).stdout;
    t.equal(rules.trim(), '', 'no nftables rule in the node namespace');
  });

  await expectOutsideReach(t, sb, out.ns, [['NodePort IPv4', NODE4, 30080], ['NodePort IPv6', NODE6, 30080], ['LB IP', LB_WEB, 80], ['externalIP', EXT_WEB, 80]], [['NodePort IPv4', NODE4, 30053], ['NodePort IPv6', NODE6, 30053], ['LB IP', LB_WEB, 53]]);

  if (sb.fastPath) {
    await t.test('the kernel flow cache carried those flows from outside (program on the uplink)', async (t) => {
      const f = (await podnetd.status()).fastPath!;
      t.equal(f.uplinks?.length, 1, `the uplink known (${JSON.stringify(f.uplinks)})`);
      t.ok((f.program?.hit_peer ?? 0) > 0 && (f.program?.hit_fib ?? 0) > 0, `program hits: ${f.program?.hit_peer} into pods, ${f.program?.hit_fib} off-node`);
    });
  }

  await t.test('eTP Cluster: the endpoint sees the node address', async (t) => {
    const r = await curl(sb, out.ns, NODE4, 30085);
    t.equal(r.code, '200');
    t.equal(r.body, NODE4, 'source masqueraded to the uplink address podnetd read');
  });

  await t.test('eTP Local: client address kept; podnetd serves the health check (200)', async (t) => {
    t.equal((await curl(sb, out.ns, NODE4, 30081)).body, OUT4, 'client source preserved through the NodePort');
    t.equal((await curl(sb, out.ns, LB_LOCAL, 8081)).body, OUT4, 'client source preserved through the LB IP');
    const h = await curl(sb, out.ns, NODE4, HC_PORT);
    t.equal(h.code, '200', 'health check 200 with a local endpoint');
    t.same(JSON.parse(h.body), { service: { namespace: 'default', name: 'local' }, localEndpoints: 1, serviceProxyHealthy: true });
    const h6 = await curl(sb, out.ns, NODE6, HC_PORT);
    t.equal(h6.code, '200', 'on the IPv6 node address too');
  });

  await t.test('eTP Local: the endpoint moves to another node → dropped, 503; back → 200', async (t) => {
    podnetd.writeManifest('local.yaml', local('other-node'));
    const h = await waitForValue('health check 503', () => curl(sb, out.ns, NODE4, HC_PORT), (r) => r.code === '503', EXTERNAL);
    t.equal(JSON.parse(h.body).localEndpoints, 0, 'no local endpoint');
    const r = await sb.agentRun<{ result: string }>(out.ns, 'tcp-connect', [NODE4, 30081]);
    t.equal(r.result, 'TIMEOUT', 'no local endpoint: dropped, as kube-proxy does');
    podnetd.writeManifest('local.yaml', local(node));
    await waitForValue('health check 200', () => curl(sb, out.ns, NODE4, HC_PORT), (x) => x.code === '200', EXTERNAL);
    t.pass('200 again');
    t.equal((await curl(sb, out.ns, NODE4, 30081)).body, OUT4, 'served again');
  });

  await t.test('loadBalancerSourceRanges: other sources blocked, listed ones served', async (t) => {
    const denied = await sb.agentRun<{ result: string }>(out.ns, 'tcp-connect', [LB_DENY, 80]);
    t.equal(denied.result, 'TIMEOUT', 'dropped');
    const ok = await burst(LB_ALLOW, 80, 10);
    t.same(ok.errors, {}, 'the listed source reaches the LB IP');
    const np = await burst(NODE4, 30082, 4);
    t.same(np.errors, {}, 'source ranges do not apply to the NodePort');
  });

  await t.test('hairpin: a pod reaches itself through its NodePort', async (t) => {
    const r = await sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number> }>(ep1.ns, 'http-burst', [NODE4, 30083, 10, 1]);
    t.same(r.errors, {});
    t.same(r.tally, { ep1: 10 }, 'answered by itself');
  });

  await t.test('pod egress is masqueraded to the uplink address, replies return (IPv4 + IPv6)', async (t) => {
    for (const [f, dst, addr] of [[4, OUT4, NODE4], [6, OUT6, NODE6]] as const) {
      const r = await sb.agentRun<{ tally: Record<string, number>; lost: number }>(ep2.ns, 'udp-ask', [dst, 7000, 5]);
      t.equal(r.lost, 0, `IPv${f} UDP: replies return`);
      t.same(Object.keys(r.tally), [addr], `IPv${f} UDP: the outside sees the node address`);
      const code = `const s=require('net').connect(7001,${JSON.stringify(dst)});let b='';s.on('data',d=>b+=d);s.on('end',()=>console.log(b));s.on('error',e=>console.log('ERR '+e.code))`;
      const { stdout } = await sb.exec(ep2.ns, [process.execPath, '-e', code], { timeoutMs: 10_000 });
      const [seen, port] = stdout.trim().split(' ');
      t.equal(seen, addr, `IPv${f} TCP: the outside sees the node address, the reply returns`);
      t.ok(Number(port) >= 61000 && Number(port) <= 65535, `source port ${port} in the configured masquerade range`);
    }
  });

  await t.test('a tc failure is logged and retried; a new LB IP is steered afterwards', async (t) => {
    // Someone removes our qdisc (and with it every filter): the next change fails, then recovers.
    await sb.exec(node, ['tc', 'qdisc', 'del', 'dev', UPLINK, 'clsact']);
    const from = podnetd.proc.lines.length;
    const late = external('late', ['10.96.0.60'], [http(30086)], [ep2], node, {}, [LB_LATE]);
    podnetd.writeManifest('late.yaml', late);
    await podnetd.proc.waitForLine(/programming the uplink steering failed/, { from, timeoutMs: 15_000 });
    t.pass('the failure was logged');
    const r = await waitForValue('LB IP served after the retry', () => burst(LB_LATE, 80, 4), (x) => Object.keys(x.errors).length === 0, { ...EXTERNAL, timeoutMs: 20_000 });
    t.same(r.tally, { ep2: 4 }, 'the new LB IP answers');
    t.ok(podnetd.proc.running, 'podnetd kept running');
    t.same((await burst(NODE4, 30080, 4)).errors, {}, 'the NodePorts are steered again too');
  });

  await t.test('the uplink address changes (DHCP): pod egress leaves with the new one, no restart', async (t) => {
    const from = podnetd.proc.lines.length;
    await sb.ipNode('addr', 'del', `${NODE4}/24`, 'dev', UPLINK);
    await sb.ipNode('addr', 'add', `${NODE4_NEW}/24`, 'dev', UPLINK);
    await podnetd.proc.waitForLine(/egress masquerade sources follow the uplinks/, { from, timeoutMs: 10_000 });
    const r = await waitForValue('UDP egress from the new address', () => sb.agentRun<{ tally: Record<string, number>; lost: number }>(ep2.ns, 'udp-ask', [OUT4, 7000, 5]),
      (x) => x.lost === 0 && Object.keys(x.tally).join() === NODE4_NEW, EXTERNAL);
    t.same(Object.keys(r.tally), [NODE4_NEW], 'the outside sees the new node address, replies return');
    const code = `const s=require('net').connect(7001,${JSON.stringify(OUT4)});let b='';s.on('data',d=>b+=d);s.on('end',()=>console.log(b));s.on('error',e=>console.log('ERR '+e.code))`;
    const { stdout } = await sb.exec(ep2.ns, [process.execPath, '-e', code], { timeoutMs: 10_000 });
    t.equal(stdout.trim().split(' ')[0], NODE4_NEW, 'TCP too: the reply to the new address is steered back');
    const v6 = await sb.agentRun<{ tally: Record<string, number>; lost: number }>(ep2.ns, 'udp-ask', [OUT6, 7000, 3]);
    t.same(Object.keys(v6.tally), [NODE6], 'the IPv6 source did not change');
    t.same((await podnetd.ctl.status()).network?.egressSources, [NODE4_NEW, NODE6], 'podnetctl status shows the sources in use');
    t.ok(podnetd.proc.running, 'podnetd kept running');
  });

  await t.test('--cleanup removes the steering', async (t) => {
    t.equal(await podnetd.stop(), 0, 'exit 0');
    t.match(await tcFilters(), /mirred/, 'a stop keeps the steering (like the TUN), a restart resumes');
    await run(node, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', podnetd.configFile, '--cleanup']);
    t.equal((await tcFilters()).trim(), '', 'no filter left on the uplink');
    t.notMatch((await sb.exec(node, ['tc', 'qdisc', 'show', 'dev', UPLINK])).stdout, /clsact/, 'clsact removed');
    t.notMatch((await sb.ipNode('link')).stdout, /podnet-drop/, 'drop sink removed');
  });
});
