// Traffic from outside, end to end in namespaces: an outside client on the node's
// uplink reaches NodePorts, LB IPs and externalIPs (HTTP + UDP, IPv4 + IPv6 NodePort) through tc
// steering into the TUN; eTP Local keeps the client address and rejects on a node without local
// endpoints; the health check port answers 200/503 as endpoints move; loadBalancerSourceRanges
// blocks other sources; hairpin through a NodePort; pod egress is masqueraded (engine run bare).
// This file tests the pieces wired by hand: specs from the real model (validate + serviceSpecs)
// handed to podnetd as a tables file, the steering of src/node/steering.ts. The same behaviour
// driven by podnetd's own config (external.*, engine.egressMasquerade) and real manifests is
// test/e2e/external-podnetd.test.ts.
import t from 'tap';
import { Podnetd, Sandbox, type Pod } from '../../src/sandbox';
import { externalNodeContext, healthChecks, steeringRules } from '../../src/services/external';
import { serviceSpecs } from '../../src/services/model';
import { validateEndpointSlice, validateService } from '../../src/services/validate';
import type { EndpointSliceInfo, ServiceInfo } from '../../src/services/objects';
import type { ServicePortSpec } from '../../src/engine/types';
import { Steering } from '../../src/node/steering';
import { BACKEND_HTTP, BACKEND_UDP, privileged } from './fixtures/helpers';
import { HealthFixture, NODE4, NODE6, OUT4, OUT6, UPLINK, addOutside, curl, expectOutsideReach, engineHost, udpWhoami, whoami } from './fixtures/outside';

const LB_WEB = '198.51.100.7', EXT_WEB = '203.0.113.9', LB_LOCAL = '198.51.100.8', LB_DENY = '198.51.100.9', LB_ALLOW = '198.51.100.10';
const WHOAMI = 9090, HC_PORT = 32000;
const nodeCtx = externalNodeContext([NODE4, NODE6]);

function service(name: string, clusterIPs: string[], spec: Record<string, unknown>, lb: string[] = []): ServiceInfo {
  return validateService({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
    spec: { clusterIPs, type: 'LoadBalancer', ...spec },
    status: { loadBalancer: { ingress: lb.map((ip) => ({ ip })) } },
  });
}

function slices(svc: string, pods: Pod[], nodeName: string, ports: { name: string; port: number; protocol?: string }[]): EndpointSliceInfo[] {
  return (['IPv4', 'IPv6'] as const).map((at) => validateEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: at,
    metadata: { name: `${svc}-${at}`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
    ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: pods.map((p) => ({ addresses: [at === 'IPv4' ? p.ip4 : p.ip6], nodeName, conditions: { ready: true } })),
  }) as EndpointSliceInfo);
}

t.test('external traffic: NodePort, LoadBalancer, externalIPs, policies, health, hairpin, egress', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const ep1 = await sb.addPod('ep1');
  const ep2 = await sb.addPod('ep2');
  const inpod = await sb.addPod('client');
  for (const ep of [ep1, ep2]) {
    await sb.serve(ep, 'http-server', BACKEND_HTTP, ep.name);
    await sb.serve(ep, 'udp-server', BACKEND_UDP, ep.name);
  }
  await whoami(sb, ep1, WHOAMI);
  const out = await addOutside(sb, [LB_WEB, EXT_WEB, LB_LOCAL, LB_DENY, LB_ALLOW]);

  const web = service('web', ['10.96.0.10', 'fd00:10:96::a'], {
    ipFamilyPolicy: 'RequireDualStack', externalIPs: [EXT_WEB],
    ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }],
  }, [LB_WEB]);
  const local = service('local', ['10.96.0.20'], {
    externalTrafficPolicy: 'Local', healthCheckNodePort: HC_PORT, ports: [{ name: 'http', port: 8081, nodePort: 30081 }],
  }, [LB_LOCAL]);
  const deny = service('deny', ['10.96.0.30'], { loadBalancerSourceRanges: ['192.168.60.0/24'], ports: [{ name: 'http', port: 80, nodePort: 30082 }] }, [LB_DENY]);
  const allow = service('allow', ['10.96.0.31'], { loadBalancerSourceRanges: [`${OUT4}/32`], ports: [{ name: 'http', port: 80, nodePort: 30084 }] }, [LB_ALLOW]);
  const hair = service('hair', ['10.96.0.40'], { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30083 }] });
  const who = service('who', ['10.96.0.50'], { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30085 }] });
  const services = [web, local, deny, allow, hair, who];
  const httpDns = [{ name: 'http', port: BACKEND_HTTP }, { name: 'dns', port: BACKEND_UDP, protocol: 'UDP' }];
  const slicesFor = (localNode: string): Map<string, EndpointSliceInfo[]> => new Map([
    ['default/web', slices('web', [ep1, ep2], sb.nodeNs, httpDns)],
    ['default/local', slices('local', [ep1], localNode, [{ name: 'http', port: WHOAMI }])],
    ['default/deny', slices('deny', [ep1, ep2], sb.nodeNs, httpDns)],
    ['default/allow', slices('allow', [ep1, ep2], sb.nodeNs, httpDns)],
    ['default/hair', slices('hair', [ep1], sb.nodeNs, httpDns)],
    ['default/who', slices('who', [ep1], sb.nodeNs, [{ name: 'http', port: WHOAMI }])],
  ]);
  const tables = (m: Map<string, EndpointSliceInfo[]>): ServicePortSpec[] =>
    services.flatMap((s) => serviceSpecs(s, m.get(s.key) ?? [], { nodeName: sb.nodeNs, external: nodeCtx }));

  const podnetd = await Podnetd.start(sb, tables(slicesFor(sb.nodeNs)));
  const steering = new Steering({ uplinks: [UPLINK], tun: sb.tun, netns: sb.nodeNs });
  await steering.start();
  const r0 = await steering.sync(steeringRules(services, nodeCtx));
  t.ok(r0.added > 0, `steering installed (${r0.added} rules)`);
  t.same(await steering.sync(steeringRules(services, nodeCtx)), { added: 0, removed: 0 }, 'steering sync is idempotent');
  const hc = await HealthFixture.start(sb, healthChecks(services, (k) => slicesFor(sb.nodeNs).get(k) ?? [], sb.nodeNs));

  const burst = (host: string, port: number, n = 20) => sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number>; remotes: string[] }>(out.ns, 'http-burst', [host, port, n, 2]);

  await expectOutsideReach(t, sb, out.ns, [['NodePort IPv4', NODE4, 30080], ['NodePort IPv6', NODE6, 30080], ['LB IP', LB_WEB, 80], ['externalIP', EXT_WEB, 80]], [['NodePort IPv4', NODE4, 30053], ['NodePort IPv6', NODE6, 30053], ['LB IP', LB_WEB, 53]]);

  await t.test('eTP Cluster: the endpoint sees the node address (masquerade)', async (t) => {
    const r = await curl(sb, out.ns, NODE4, 30085);
    t.equal(r.code, '200');
    t.equal(r.body, NODE4, 'source masqueraded to the node IP');
  });

  await t.test('eTP Local: the endpoint sees the client address; health check 200', async (t) => {
    const r = await curl(sb, out.ns, NODE4, 30081);
    t.equal(r.code, '200');
    t.equal(r.body, OUT4, 'client source preserved through the NodePort');
    const lb = await curl(sb, out.ns, LB_LOCAL, 8081);
    t.equal(lb.body, OUT4, 'client source preserved through the LB IP');
    const h = await curl(sb, out.ns, NODE4, HC_PORT);
    t.equal(h.code, '200', 'health check 200 with a local endpoint');
    t.same(JSON.parse(h.body), { service: { namespace: 'default', name: 'local' }, localEndpoints: 1, serviceProxyHealthy: true });
  });

  await t.test('eTP Local: endpoints move to another node → refused, health check 503; back → 200', async (t) => {
    const moved = slicesFor('other-node');
    await podnetd.setTables(tables(moved));
    await hc.update(healthChecks(services, (k) => moved.get(k) ?? [], sb.nodeNs));
    const r = await sb.agentRun<{ result: string }>(out.ns, 'tcp-connect', [NODE4, 30081]);
    t.not(r.result, 'CONNECTED', `no connection without a local endpoint (${r.result}; kube-proxy drops, the engine rejects)`);
    const h = await curl(sb, out.ns, NODE4, HC_PORT);
    t.equal(h.code, '503');
    t.equal(JSON.parse(h.body).localEndpoints, 0);
    const back = slicesFor(sb.nodeNs);
    await podnetd.setTables(tables(back));
    await hc.update(healthChecks(services, (k) => back.get(k) ?? [], sb.nodeNs));
    t.equal((await curl(sb, out.ns, NODE4, HC_PORT)).code, '200', '200 again');
    t.equal((await curl(sb, out.ns, NODE4, 30081)).body, OUT4, 'served again');
  });

  await t.test('loadBalancerSourceRanges: other sources blocked, listed ones served', async (t) => {
    const denied = await sb.agentRun<{ result: string }>(out.ns, 'tcp-connect', [LB_DENY, 80]);
    t.equal(denied.result, 'TIMEOUT', 'dropped before the engine');
    const ok = await burst(LB_ALLOW, 80, 10);
    t.same(ok.errors, {}, 'allowed source reaches the LB IP');
    const np = await burst(NODE4, 30082, 4);
    t.same(np.errors, {}, 'source ranges do not apply to the NodePort');
  });

  await t.test('hairpin: a pod reaches itself through a NodePort and a ClusterIP', async (t) => {
    const viaNode = await sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number> }>(ep1.ns, 'http-burst', [NODE4, 30083, 10, 1]);
    t.same(viaNode.errors, {});
    t.same(viaNode.tally, { ep1: 10 }, 'answered by itself');
    const viaVip = await sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number> }>(ep1.ns, 'http-burst', ['10.96.0.40', 80, 10, 1]);
    t.same(viaVip.tally, { ep1: 10 });
  });

  await t.test('a pod inside reaches the NodePort and LB IP too', async (t) => {
    const r = await sb.agentRun<{ tally: Record<string, number>; errors: Record<string, number> }>(inpod.ns, 'http-burst', [NODE4, 30080, 10, 1]);
    t.same(r.errors, {});
  });

  await t.test('cleanup removes the steering', async (t) => {
    await steering.stop();
    const { stdout } = await sb.exec(sb.nodeNs, ['tc', 'filter', 'show', 'dev', UPLINK, 'ingress']);
    t.equal(stdout.trim(), '', 'no filter left');
    const q = await sb.exec(sb.nodeNs, ['tc', 'qdisc', 'show', 'dev', UPLINK]);
    t.notMatch(q.stdout, /clsact/, 'clsact removed');
    const r = await sb.agentRun<{ result: string }>(out.ns, 'tcp-connect', [LB_WEB, 80]);
    t.not(r.result, 'CONNECTED', 'LB IP no longer served');
  });
});

// podnetd's config does not take engine.egressMasquerade yet: this part runs the engine bare.
t.test('egress: pod traffic to an outside address is masqueraded, replies return', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const pod = await sb.addPod('client');
  const out = await addOutside(sb, []);
  const egressMasquerade = { podCIDRs: [sb.podCIDR4, sb.podCIDR6], exemptCIDRs: [sb.podCIDR4, sb.podCIDR6, ...sb.serviceCIDRs], sourceIPv4: NODE4, sourceIPv6: NODE6 };
  await engineHost(sb, { egressMasquerade }, []);
  const steering = new Steering({ uplinks: [UPLINK], tun: sb.tun, netns: sb.nodeNs });
  await steering.start();
  await steering.sync(steeringRules([], nodeCtx, { egressMasquerade: { sources: [NODE4, NODE6] } }));
  await udpWhoami(sb, out.ns, 7000);
  const srv = `require('net').createServer(c=>c.end(c.remoteAddress.replace(/^::ffff:/,'')+' '+c.remotePort)).listen(7001,'::',()=>console.log('listening'))`;
  await sb.spawn(out.ns, [process.execPath, '-e', srv], { readyLine: /^listening$/ });
  for (const [f, dst, node] of [[4, OUT4, NODE4], [6, OUT6, NODE6]] as const) {
    const r = await sb.agentRun<{ tally: Record<string, number>; lost: number }>(pod.ns, 'udp-ask', [dst, 7000, 5]);
    t.equal(r.lost, 0, `IPv${f} UDP: replies return`);
    t.same(Object.keys(r.tally), [node], `IPv${f} UDP: the outside sees the node address`);
    const code = `const s=require('net').connect(7001,${JSON.stringify(dst)});let b='';s.on('data',d=>b+=d);s.on('end',()=>console.log(b));s.on('error',e=>console.log('ERR '+e.code))`;
    const { stdout } = await sb.exec(pod.ns, [process.execPath, '-e', code], { timeoutMs: 10_000 });
    const [addr, port] = stdout.trim().split(' ');
    t.equal(addr, node, `IPv${f} TCP: the outside sees the node address, the reply returns`);
    t.ok(Number(port) >= 61000 && Number(port) <= 65535, `source port ${port} in the masquerade range`);
  }
  const direct = await sb.exec(sb.nodeNs, ['tc', 'filter', 'show', 'dev', UPLINK, 'ingress']);
  t.match(direct.stdout, /mirred/, 'replies are steered by tc, not netfilter');
  await steering.stop();
});
