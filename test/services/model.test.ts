// Table-driven model tests: Service + EndpointSlices + this node → engine specs, for every
// rule of the services model. Specs are rendered as one line each so a table row reads like the rule:
//   "VIP:port/PROTO [aff=N] ip:port ... ~ip:port" (~ marks terminating: established flows only).
import t from 'tap';
import type { ServicePortSpec } from '../../src/engine/types';
import { diffSpecs, serviceSpecs, specKey, type ModelNote } from '../../src/services/model';
import { validateEndpointSlice, validateService } from '../../src/services/validate';
import type { EndpointSliceInfo } from '../../src/services/objects';
import { service, slice, type SliceArg, type SvcArg } from './fixtures/builders';

function render(specs: ServicePortSpec[]): string[] {
  return specs.map((s) => {
    const vip = s.vip.includes(':') ? `[${s.vip}]` : s.vip;
    const aff = s.affinityTimeoutSec ? ` aff=${s.affinityTimeoutSec}` : '';
    const be = s.backends.map((b) => `${b.terminating ? '~' : ''}${b.ip.includes(':') ? `[${b.ip}]` : b.ip}:${b.port}`);
    return `${vip}:${s.port}/${s.protocol}${aff}${be.length ? ' ' + be.join(' ') : ' -'}`;
  });
}

interface Case {
  name: string;
  svc: SvcArg;
  slices?: SliceArg[];
  node?: { name: string; zone?: string };
  want: string[];
  notes?: string[];
}

const web = (extra: Partial<SvcArg> = {}): SvcArg => ({ name: 'web', ...extra });
const ep = (ip: string, more: Record<string, unknown> = {}) => ({ ip, ...more });

const cases: Case[] = [
  {
    name: 'ready endpoints take new flows',
    svc: web(),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5'), ep('10.244.2.7')] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080'],
  },
  {
    name: 'several ports and protocols, matched by port name',
    svc: web({ ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] }),
    slices: [{ service: 'web', ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'http', port: 8080 }], endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080', '10.96.0.10:53/UDP 10.244.1.5:5353'],
  },
  {
    name: 'same port name but other protocol does not match',
    svc: web({ ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
    slices: [{ service: 'web', ports: [{ name: 'dns', port: 53, protocol: 'TCP' }], endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:53/UDP -'],
  },
  {
    name: 'named targetPort: pods with different numbers for the name, in two slices',
    svc: web({ ports: [{ name: 'http', port: 80, targetPort: 'web' }] }),
    slices: [
      { service: 'web', name: 'web-aaaaa', ports: [{ name: 'http', port: 8080 }], endpoints: [ep('10.244.1.5')] },
      { service: 'web', name: 'web-bbbbb', ports: [{ name: 'http', port: 9090 }], endpoints: [ep('10.244.2.7')] },
    ],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:9090'],
  },
  {
    name: 'unnamed single port matches the unnamed slice port',
    svc: web({ ports: [{ port: 443, targetPort: 8443 }] }),
    slices: [{ service: 'web', ports: [{ port: 8443 }], endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:443/TCP 10.244.1.5:8443'],
  },
  {
    name: 'slice port without a number ("all ports") is ignored',
    svc: web(),
    slices: [{ service: 'web', ports: [{ name: 'http' }], endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:80/TCP -'],
  },
  {
    name: 'duplicate endpoints across slices merge; the ready copy wins',
    svc: web(),
    slices: [
      { service: 'web', name: 'web-aaaaa', endpoints: [ep('10.244.1.5', { ready: false, serving: false }), ep('10.244.1.6')] },
      { service: 'web', name: 'web-bbbbb', endpoints: [ep('10.244.1.5'), ep('10.244.1.6')] },
    ],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.1.6:8080'],
  },
  {
    name: 'FQDN slices are ignored',
    svc: web(),
    slices: [{ service: 'web', addressType: 'FQDN', endpoints: [ep('db.example.com')] }],
    want: ['10.96.0.10:80/TCP -'],
  },
  {
    name: 'dual-stack: one spec per ClusterIP family, backends of that family only',
    svc: web({ clusterIPs: ['10.96.0.10', 'fd00:10:96::a'] }),
    slices: [
      { service: 'web', name: 'web-v4', endpoints: [ep('10.244.1.5')] },
      { service: 'web', name: 'web-v6', addressType: 'IPv6', endpoints: [ep('fd00:10:244:1::5')] },
    ],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080', '[fd00:10:96::a]:80/TCP [fd00:10:244:1::5]:8080'],
  },
  {
    name: 'IPv6 literals are canonicalized',
    svc: web({ clusterIPs: ['FD00:10:96:0:0:0:0:A'] }),
    slices: [{ service: 'web', addressType: 'IPv6', endpoints: [ep('FD00:10:244:1:0::5')] }],
    want: ['[fd00:10:96::a]:80/TCP [fd00:10:244:1::5]:8080'],
  },
  {
    name: 'not ready, not terminating TCP endpoint keeps established flows only',
    svc: web(),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5'), ep('10.244.1.6', { ready: false, serving: false })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.1.6:8080'],
  },
  {
    name: 'terminating endpoints keep established flows while ready ones exist',
    svc: web(),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5'), ep('10.244.1.6', { ready: false, serving: true, terminating: true })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.1.6:8080'],
  },
  {
    name: 'KEP-1669: no ready endpoint → serving+terminating ones take new flows',
    svc: web(),
    slices: [{
      service: 'web',
      endpoints: [
        ep('10.244.1.5', { ready: false, serving: true, terminating: true }),
        ep('10.244.1.6', { ready: false, serving: false, terminating: true }),
        ep('10.244.1.7', { ready: false, serving: false }),
      ],
    }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.1.6:8080 ~10.244.1.7:8080'],
  },
  {
    name: 'no usable endpoint → spec with no eligible backend (engine rejects)',
    svc: web(),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.6', { ready: false, serving: false, terminating: true })] }],
    want: ['10.96.0.10:80/TCP ~10.244.1.6:8080'],
  },
  {
    name: 'no slices at all → spec with zero backends (engine rejects)',
    svc: web({ ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }),
    want: ['10.96.0.10:80/TCP -', '10.96.0.10:443/TCP -'],
  },
  {
    name: 'UDP: an endpoint that stopped serving leaves the spec (its flows are purged at once)',
    svc: web({ ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
    slices: [{
      service: 'web', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
      endpoints: [ep('10.244.1.5'), ep('10.244.1.6', { ready: false, serving: false }), ep('10.244.1.7', { ready: false, serving: true, terminating: true }), ep('10.244.1.8', { ready: false, serving: false, terminating: true })],
    }],
    want: ['10.96.0.10:53/UDP 10.244.1.5:53 ~10.244.1.7:53'],
  },
  {
    name: 'sessionAffinity ClientIP with explicit timeout',
    svc: web({ sessionAffinity: 'ClientIP', affinityTimeout: 600 }),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:80/TCP aff=600 10.244.1.5:8080'],
  },
  {
    name: 'sessionAffinity ClientIP without config defaults to 10800 s',
    svc: web({ sessionAffinity: 'ClientIP' }),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:80/TCP aff=10800 10.244.1.5:8080'],
  },
  {
    name: 'internalTrafficPolicy Local: only this node\'s endpoints take new flows',
    svc: web({ internalTrafficPolicy: 'Local' }),
    node: { name: 'node-a' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { node: 'node-a' }), ep('10.244.2.7', { node: 'node-b' })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.2.7:8080'],
  },
  {
    name: 'internalTrafficPolicy Local with no local endpoint → no eligible backend',
    svc: web({ internalTrafficPolicy: 'Local' }),
    node: { name: 'node-c' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { node: 'node-a' }), ep('10.244.2.7', { node: 'node-b' })] }],
    want: ['10.96.0.10:80/TCP ~10.244.1.5:8080 ~10.244.2.7:8080'],
  },
  {
    name: 'internalTrafficPolicy Local falls back to local serving+terminating',
    svc: web({ internalTrafficPolicy: 'Local' }),
    node: { name: 'node-a' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { node: 'node-a', ready: false, serving: true, terminating: true }), ep('10.244.2.7', { node: 'node-b' })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.2.7:8080'],
  },
  {
    name: 'topology: zone hints honoured when every ready endpoint has one',
    svc: web({ trafficDistribution: 'PreferClose' }),
    node: { name: 'node-a', zone: 'zone-1' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { zoneHints: ['zone-1'] }), ep('10.244.2.7', { zoneHints: ['zone-2'] })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.2.7:8080'],
  },
  {
    name: 'topology: ignored when one ready endpoint has no hint',
    svc: web({ trafficDistribution: 'PreferClose' }),
    node: { name: 'node-a', zone: 'zone-1' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { zoneHints: ['zone-1'] }), ep('10.244.2.7')] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080'],
    notes: ['topology-ignored'],
  },
  {
    name: 'topology: not-ready endpoints without hints do not count',
    svc: web(),
    node: { name: 'node-a', zone: 'zone-1' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { zoneHints: ['zone-1'] }), ep('10.244.2.7', { zoneHints: ['zone-2'] }), ep('10.244.3.9', { ready: false, serving: false })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 ~10.244.2.7:8080 ~10.244.3.9:8080'],
  },
  {
    name: 'topology: ignored when no endpoint is hinted for this node\'s zone',
    svc: web(),
    node: { name: 'node-a', zone: 'zone-3' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { zoneHints: ['zone-1'] }), ep('10.244.2.7', { zoneHints: ['zone-2'] })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080'],
    notes: ['topology-ignored'],
  },
  {
    name: 'topology: ignored when this node has no zone label',
    svc: web(),
    node: { name: 'node-a' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { zoneHints: ['zone-1'] }), ep('10.244.2.7', { zoneHints: ['zone-2'] })] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080 10.244.2.7:8080'],
    notes: ['topology-ignored'],
  },
  {
    name: 'topology: PreferSameNode node hints',
    svc: web({ trafficDistribution: 'PreferSameNode' }),
    node: { name: 'node-b', zone: 'zone-1' },
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5', { node: 'node-a', nodeHints: ['node-a'], zoneHints: ['zone-1'] }), ep('10.244.2.7', { node: 'node-b', nodeHints: ['node-b'], zoneHints: ['zone-1'] })] }],
    want: ['10.96.0.10:80/TCP 10.244.2.7:8080 ~10.244.1.5:8080'],
  },
  {
    name: 'headless service gets nothing',
    svc: web({ clusterIPs: ['None'] }),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5')] }],
    want: [],
  },
  {
    name: 'ExternalName service gets nothing',
    svc: web({ type: 'ExternalName' }),
    want: [],
  },
  {
    name: 'service-proxy-name label: another proxy owns it',
    svc: web({ labels: { 'service.kubernetes.io/service-proxy-name': 'other-proxy' } }),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5')] }],
    want: [],
  },
  {
    name: 'NodePort / LoadBalancer services get their ClusterIP programmed',
    svc: web({ type: 'LoadBalancer' }),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080'],
  },
  {
    name: 'SCTP port is skipped and noted, the others are programmed',
    svc: web({ ports: [{ name: 'http', port: 80 }, { name: 'sig', port: 3868, protocol: 'SCTP' }] }),
    slices: [{ service: 'web', ports: [{ name: 'http', port: 8080 }, { name: 'sig', port: 3868, protocol: 'SCTP' }], endpoints: [ep('10.244.1.5')] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080'],
    notes: ['unsupported-protocol'],
  },
  {
    name: 'slices of other services are not merged in',
    svc: web(),
    slices: [{ service: 'web', endpoints: [ep('10.244.1.5')] }, { service: 'api', name: 'api-zzzzz', endpoints: [ep('10.244.9.9')] }],
    want: ['10.96.0.10:80/TCP 10.244.1.5:8080'],
  },
];

t.test('model rules', async (t) => {
  for (const c of cases) {
    const svc = validateService(service(c.svc));
    const slices = (c.slices ?? []).map((s) => validateEndpointSlice(slice(s))).filter((s): s is EndpointSliceInfo => s !== null && s.serviceKey === svc.key);
    const notes: ModelNote[] = [];
    const specs = serviceSpecs(svc, slices, { nodeName: c.node?.name ?? 'node-a', ...(c.node?.zone ? { zone: c.node.zone } : {}) }, notes);
    t.same(render(specs), c.want, c.name);
    t.same([...new Set(notes.map((n) => n.code))], c.notes ?? [], `${c.name}: notes`);
  }
});

t.test('spec carries a stats name and backend pod names', async (t) => {
  const svc = validateService(service({ name: 'web', namespace: 'shop' }));
  const sl = validateEndpointSlice(slice({ service: 'web', namespace: 'shop', endpoints: [{ ip: '10.244.1.5', pod: 'web-1' }] }));
  const [s] = serviceSpecs(svc, [sl!], { nodeName: 'node-a' });
  t.equal(s.name, 'shop/web:http');
  t.same(s.backends, [{ ip: '10.244.1.5', port: 8080, name: 'web-1' }]);
});

t.test('diffSpecs: changed and new specs upserted, missing removed, equal untouched', async (t) => {
  const a = { vip: '10.96.0.1', port: 80, protocol: 'TCP' as const, backends: [{ ip: '10.244.1.1', port: 80 }] };
  const b = { vip: '10.96.0.2', port: 80, protocol: 'TCP' as const, backends: [] };
  const b2 = { ...b, backends: [{ ip: '10.244.1.2', port: 80 }] };
  const c = { vip: '10.96.0.3', port: 53, protocol: 'UDP' as const, backends: [] };
  const m = (...xs: ServicePortSpec[]) => new Map(xs.map((x) => [specKey(x), x]));
  const d = diffSpecs(m(a, b), m(a, b2, c));
  t.same(d.upsert.map((s) => s.vip), ['10.96.0.2', '10.96.0.3']);
  t.same(d.remove, []);
  const d2 = diffSpecs(m(a, b), m(b));
  t.same(d2, { upsert: [], remove: [{ vip: '10.96.0.1', port: 80, protocol: 'TCP' }] });
});
