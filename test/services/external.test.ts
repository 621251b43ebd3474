// Table-driven tests of external traffic: a v1 Service with NodePorts / LB ingress /
// externalIPs / traffic policies + slices + this node → the extra engine specs, the tc steering
// rules and the health check ports. Specs render one line each:
//   "VIP:port/PROTO [masq=ADDR] ip:port ... ~ip:port"
import t from 'tap';
import type { ServicePortSpec } from '../../src/engine/types';
import { externalNodeContext, healthChecks, steeringRules, validateExternal } from '../../src/services/external';
import { steerKey } from '../../src/node/steer-rule';
import { serviceSpecs } from '../../src/services/model';
import { validateEndpointSlice, validateNode, validateService } from '../../src/services/validate';
import type { EndpointSliceInfo } from '../../src/services/objects';

const NODE4 = '192.168.50.2';
const NODE6 = 'fd00:50::2';
const node = { nodeName: 'n1', external: externalNodeContext([NODE4, NODE6]) };

function svc(spec: Record<string, unknown>, status?: Record<string, unknown>) {
  return validateService({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
    spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], ...spec },
    ...(status ? { status } : {}),
  });
}

function slice(eps: { ip: string; node?: string; ready?: boolean; terminating?: boolean }[], addressType = 'IPv4'): EndpointSliceInfo {
  return validateEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType,
    metadata: { name: `web-${addressType}`, namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node ?? 'n1', conditions: { ready: e.ready ?? true, serving: true, terminating: e.terminating ?? false } })),
  }) as EndpointSliceInfo;
}

function render(specs: ServicePortSpec[]): string[] {
  return specs.map((s) => {
    const b = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);
    const be = s.backends.map((x) => `${x.terminating ? '~' : ''}${b(x.ip)}:${x.port}`);
    return `${b(s.vip)}:${s.port}/${s.protocol}${s.masquerade ? ` masq=${s.masquerade}` : ''}${be.length ? ' ' + be.join(' ') : ' -'}`;
  });
}

const eps = [slice([{ ip: '10.244.1.5' }, { ip: '10.244.2.7', node: 'n2' }])];

interface Case { name: string; spec: Record<string, unknown>; status?: Record<string, unknown>; slices?: EndpointSliceInfo[]; want: string[] }
const cases: Case[] = [
  { name: 'ClusterIP: no external specs', spec: { type: 'ClusterIP' }, want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080'] },
  {
    name: 'NodePort eTP Cluster: node IP + nodePort, masqueraded, every endpoint', spec: { type: 'NodePort' },
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080', `${NODE4}:30080/TCP masq=${NODE4} 10.244.1.5:8080 10.244.2.7:8080`],
  },
  {
    name: 'NodePort eTP Local: source kept, local endpoints only (others terminating)', spec: { type: 'NodePort', externalTrafficPolicy: 'Local' },
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080', `${NODE4}:30080/TCP 10.244.1.5:8080 ~10.244.2.7:8080`],
  },
  {
    name: 'eTP Local without local endpoints: zero backends (rejected by the engine)', spec: { type: 'NodePort', externalTrafficPolicy: 'Local' },
    slices: [slice([{ ip: '10.244.2.7', node: 'n2' }])],
    want: ['10.96.0.10:80/TCP 10.244.2.7:8080', `${NODE4}:30080/TCP ~10.244.2.7:8080`],
  },
  {
    name: 'eTP Cluster ignores iTP Local', spec: { type: 'NodePort', internalTrafficPolicy: 'Local' },
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.2.7:8080', `${NODE4}:30080/TCP masq=${NODE4} 10.244.1.5:8080 10.244.2.7:8080`],
  },
  {
    name: 'LoadBalancer: ingress IPs (not ipMode Proxy, not hostname-only) and externalIPs on the service port',
    spec: { type: 'LoadBalancer', externalIPs: ['203.0.113.9'] },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }, { ip: '198.51.100.8', ipMode: 'Proxy' }, { hostname: 'lb.example' }] } },
    want: [
      '10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080',
      `${NODE4}:30080/TCP masq=${NODE4} 10.244.1.5:8080 10.244.2.7:8080`,
      `198.51.100.7:80/TCP masq=${NODE4} 10.244.1.5:8080 10.244.2.7:8080`,
      `203.0.113.9:80/TCP masq=${NODE4} 10.244.1.5:8080 10.244.2.7:8080`,
    ],
  },
  {
    name: 'ClusterIP with externalIPs, eTP Local', spec: { type: 'ClusterIP', externalIPs: ['203.0.113.9'], externalTrafficPolicy: 'Local' },
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080', '203.0.113.9:80/TCP 10.244.1.5:8080 ~10.244.2.7:8080'],
  },
  {
    name: 'dual-stack NodePort: one spec per family, masquerade to that family\'s node IP',
    spec: { type: 'NodePort', clusterIPs: ['10.96.0.10', 'fd00:10:96::a'], externalIPs: ['2001:db8::9'] },
    slices: [slice([{ ip: '10.244.1.5' }]), slice([{ ip: 'fd00:10:244:1::5' }], 'IPv6')],
    want: [
      '10.96.0.10:80/TCP 10.244.1.5:8080', '[fd00:10:96::a]:80/TCP [fd00:10:244:1::5]:8080',
      `${NODE4}:30080/TCP masq=${NODE4} 10.244.1.5:8080`,
      `[${NODE6}]:30080/TCP masq=${NODE6} [fd00:10:244:1::5]:8080`,
      `[2001:db8::9]:80/TCP masq=${NODE6} [fd00:10:244:1::5]:8080`,
    ],
  },
  {
    name: 'UDP port, ClientIP affinity carried', spec: { type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }] },
    want: ['10.96.0.10:53/UDP 10.244.1.5:5353 10.244.2.7:5353', `${NODE4}:30053/UDP masq=${NODE4} 10.244.1.5:5353 10.244.2.7:5353`],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const s = svc(c.spec, c.status);
    const got = serviceSpecs(s, c.slices ?? eps, node);
    t.same(render(got), c.want);
    if (c.spec.sessionAffinity) t.ok(got.every((x) => x.affinityTimeoutSec === 10800), 'affinity on every spec');
  });
}

t.test('no external node context: external addresses are not programmed', async (t) => {
  t.same(render(serviceSpecs(svc({ type: 'NodePort' }), eps, { nodeName: 'n1' })), ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080']);
});

t.test('node without an address of the family: noted, skipped', async (t) => {
  const notes: { code: string }[] = [];
  const n6only = { nodeName: 'n1', external: externalNodeContext([NODE6]) };
  const got = serviceSpecs(svc({ type: 'NodePort', externalIPs: ['203.0.113.9'] }), eps, n6only, notes as never);
  t.equal(got.length, 1);
  t.same(notes.map((n) => n.code), ['external-no-node-address']);
});

t.test('nodePortAddresses', async (t) => {
  const addrs = [NODE4, '10.0.0.2', NODE6];
  t.same(externalNodeContext(addrs).nodePortIPs, [NODE4, NODE6], 'default: primary address per family');
  t.same(externalNodeContext(addrs, ['10.0.0.0/8']).nodePortIPs, ['10.0.0.2'], 'CIDR selects');
  t.same(externalNodeContext(addrs, ['primary', '10.0.0.0/8']).nodePortIPs, [NODE4, NODE6, '10.0.0.2'], 'primary plus CIDR');
  t.same(externalNodeContext(addrs, ['10.0.0.0/8']).masqueradeIPv4, NODE4, 'masquerade stays the primary');
  t.throws(() => externalNodeContext(addrs, ['10.0.0.0/33']), { code: 'CONTROL_INVALID_OBJECT' });
});

t.test('validation errors name the field', async (t) => {
  t.throws(() => svc({ type: 'NodePort', externalIPs: ['nope'] }), /spec\.externalIPs\[0\]/);
  t.throws(() => svc({ type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 70000 }] }), /nodePort/);
  t.throws(() => svc({ type: 'NodePort', externalTrafficPolicy: 'Nearby' }), /externalTrafficPolicy/);
  t.throws(() => svc({ type: 'LoadBalancer', loadBalancerSourceRanges: ['1.2.3.4/40'] }), /loadBalancerSourceRanges\[0\]/);
  const ok = validateExternal('x/y', { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.1.2.3/8', ' 2001:DB8::1/32 ', '1.2.3.4'] }, undefined, 0);
  t.same(ok?.sourceRanges, ['10.0.0.0/8', '2001:db8::/32', '1.2.3.4/32'], 'canonical, host bits cleared');
});

t.test('Node addresses from status.addresses', async (t) => {
  const n = validateNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [
    { type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: NODE4 }, { type: 'InternalIP', address: 'FD00:50::2' }, { type: 'ExternalIP', address: '203.0.113.1' },
  ] } });
  t.same(n.addresses, [NODE4, NODE6, '203.0.113.1']);
});

t.test('steering rules: order and content', async (t) => {
  const lb = svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, loadBalancerSourceRanges: ['192.0.2.0/24'],
    ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }] },
  { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } });
  const ext = validateService({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext', namespace: 'default' },
    spec: { clusterIPs: ['10.96.0.11'], ports: [{ port: 443 }], externalIPs: ['203.0.113.9'] } });
  const rules = steeringRules([lb, ext], node.external, { egressMasquerade: { sources: [NODE4] } });
  t.same(rules.map(steerKey), [
    `pass 4 * > ${NODE4} tcp/32000`,
    `pass 6 * > ${NODE6} tcp/32000`,
    'redirect 4 192.0.2.0/24 > 198.51.100.7 tcp/80',
    'redirect 4 192.0.2.0/24 > 198.51.100.7 udp/53',
    'drop 4 * > 198.51.100.7 tcp/',
    'drop 4 * > 198.51.100.7 udp/',
    'redirect 4 * > 203.0.113.9 tcp/443',
    `redirect 4 * > ${NODE4} tcp/30000-32767`,
    `redirect 4 * > ${NODE4} udp/30000-32767`,
    `redirect 6 * > ${NODE6} tcp/30000-32767`,
    `redirect 6 * > ${NODE6} udp/30000-32767`,
    `redirect 4 * > ${NODE4} tcp/61000-65535`,
    `redirect 4 * > ${NODE4} udp/61000-65535`,
  ]);
});

t.test('health checks: eTP Local only, local ready endpoints counted once', async (t) => {
  const local = svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 });
  const cluster = validateService({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'c', namespace: 'default' },
    spec: { clusterIPs: ['10.96.0.12'], type: 'LoadBalancer', healthCheckNodePort: 32001, ports: [{ port: 80, nodePort: 30081 }] } });
  const sl = [slice([{ ip: '10.244.1.5' }, { ip: '10.244.1.6', ready: false, terminating: true }, { ip: '10.244.2.7', node: 'n2' }])];
  t.same(healthChecks([local, cluster], () => sl, 'n1'), [{ namespace: 'default', name: 'web', port: 32000, localEndpoints: 1 }]);
  t.same(healthChecks([local], () => [], 'n1'), [{ namespace: 'default', name: 'web', port: 32000, localEndpoints: 0 }]);
});

t.test('control plane: external option, Node addresses, onSynced and externalView', async (t) => {
  const { ControlPlane } = await import('../../src/services/control-plane');
  const tables: ServicePortSpec[][] = [];
  const sink = {
    replace: (s: ServicePortSpec[]) => { tables.push(s); return { version: 1, servicePorts: s.length, flowsPurged: 0 }; },
    apply: () => ({ version: 2, servicePorts: 0, flowsPurged: 0 }),
  };
  let synced = 0;
  const cp = new ControlPlane({ sink, nodeName: 'n1', external: {}, onSynced: () => { synced++; } });
  const s = svc({ type: 'NodePort' });
  cp.setService(s.key, s);
  cp.setEndpointSlice(eps[0].key, eps[0]);
  cp.setNode('n1', validateNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: NODE4 }] } }));
  cp.setInitialized();
  cp.sync();
  cp.stop();
  t.same(render(tables[tables.length - 1]), ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080', `${NODE4}:30080/TCP masq=${NODE4} 10.244.1.5:8080 10.244.2.7:8080`]);
  t.ok(synced >= 1, 'onSynced called');
  const v = cp.externalView();
  t.same(v.node?.nodePortIPs, [NODE4]);
  t.same(steeringRules(v.services, v.node!).map(steerKey), [`redirect 4 * > ${NODE4} tcp/30000-32767`, `redirect 4 * > ${NODE4} udp/30000-32767`]);
});
