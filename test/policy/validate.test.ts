// Validation of policy inputs: every invalid NetworkPolicy / Pod / Namespace becomes an
// InvalidObjectError naming the field (never a crash); valid objects normalize the way the API
// server defaults them (policyTypes, protocol, namespace name label); selectors and CIDRs follow
// Kubernetes semantics.
import t, { type Test } from 'tap';
import { InvalidObjectError } from '../../src/kube/errors';
import { fingerprint } from '../../src/kube/objects';
import { cidrContains, formatCidr, readCidr } from '../../src/net/cidr';
import type { LabelSelector } from '../../src/policy/objects';
import { selectorMatches } from '../../src/policy/selector';
import { policyObjectKind, validateNamespace, validateNetworkPolicy, validatePod } from '../../src/policy/validate';
import { namespace, netpol, pod } from '../helpers/kube-objects';

type Edit = (o: any) => void;

function expectInvalid(t: Test, name: string, fn: () => unknown, field: string, reason: RegExp): void {
  try {
    fn();
    t.fail(`${name}: accepted`);
  } catch (e) {
    t.type(e, InvalidObjectError, `${name}: error class`);
    const err = e as InvalidObjectError;
    t.equal(err.code, 'CONTROL_INVALID_OBJECT', `${name}: code`);
    t.equal(err.field, field, `${name}: field`);
    t.match(err.reason, reason, `${name}: reason`);
  }
}

const basePolicy = () => netpol('shop', 'web', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 80, protocol: 'TCP' }] }],
  egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }],
});

const policyCases: Array<[string, Edit, string, RegExp]> = [
  ['missing metadata', (o) => { delete o.metadata; }, 'metadata', /required/],
  ['empty name', (o) => { o.metadata.name = ''; }, 'metadata.name', /empty/],
  ['missing spec', (o) => { delete o.spec; }, 'spec', /required/],
  ['podSelector not an object', (o) => { o.spec.podSelector = 'app=web'; }, 'spec.podSelector', /object/],
  ['matchLabels value not a string', (o) => { o.spec.podSelector.matchLabels.app = 1; }, 'spec.podSelector.matchLabels[app]', /string/],
  ['bad operator', (o) => { o.spec.podSelector.matchExpressions = [{ key: 'app', operator: 'Equals', values: ['x'] }]; }, 'spec.podSelector.matchExpressions[0].operator', /In, NotIn, Exists, DoesNotExist/],
  ['In without values', (o) => { o.spec.podSelector.matchExpressions = [{ key: 'app', operator: 'In', values: [] }]; }, 'spec.podSelector.matchExpressions[0].values', /non-empty/],
  ['Exists with values', (o) => { o.spec.podSelector.matchExpressions = [{ key: 'app', operator: 'Exists', values: ['x'] }]; }, 'spec.podSelector.matchExpressions[0].values', /empty for Exists/],
  ['expression without key', (o) => { o.spec.podSelector.matchExpressions = [{ operator: 'Exists' }]; }, 'spec.podSelector.matchExpressions[0].key', /required/],
  ['bad policyType', (o) => { o.spec.policyTypes = ['Ingress', 'Sideways']; }, 'spec.policyTypes[1]', /Ingress, Egress/],
  ['duplicate policyType', (o) => { o.spec.policyTypes = ['Ingress', 'Ingress']; }, 'spec.policyTypes', /duplicate/],
  ['ingress not a list', (o) => { o.spec.ingress = {}; }, 'spec.ingress', /list/],
  ['peer with nothing', (o) => { o.spec.ingress[0].from = [{}]; }, 'spec.ingress[0].from[0]', /must specify a peer/],
  ['ipBlock with a selector', (o) => { o.spec.egress[0].to[0].podSelector = {}; }, 'spec.egress[0].to[0]', /both ipBlock and another peer/],
  ['ipBlock without cidr', (o) => { delete o.spec.egress[0].to[0].ipBlock.cidr; }, 'spec.egress[0].to[0].ipBlock.cidr', /required/],
  ['cidr without prefix', (o) => { o.spec.egress[0].to[0].ipBlock.cidr = '10.0.0.0'; }, 'spec.egress[0].to[0].ipBlock.cidr', /no \/prefix/],
  ['cidr prefix too long', (o) => { o.spec.egress[0].to[0].ipBlock.cidr = '10.0.0.0/33'; }, 'spec.egress[0].to[0].ipBlock.cidr', /bad prefix/],
  ['cidr bad address', (o) => { o.spec.egress[0].to[0].ipBlock.cidr = '10.0.0.300/8'; }, 'spec.egress[0].to[0].ipBlock.cidr', /bad address/],
  ['except outside cidr', (o) => { o.spec.egress[0].to[0].ipBlock.except = ['192.168.0.0/16']; }, 'spec.egress[0].to[0].ipBlock.except[0]', /strict subset of 10.0.0.0\/8/],
  ['except equal to cidr', (o) => { o.spec.egress[0].to[0].ipBlock.except = ['10.0.0.0/8']; }, 'spec.egress[0].to[0].ipBlock.except[0]', /strict subset/],
  ['except of the other family', (o) => { o.spec.egress[0].to[0].ipBlock.except = ['fd00::/64']; }, 'spec.egress[0].to[0].ipBlock.except[0]', /strict subset/],
  ['port 0', (o) => { o.spec.ingress[0].ports[0].port = 0; }, 'spec.ingress[0].ports[0].port', /between 1 and 65535/],
  ['port not a name', (o) => { o.spec.ingress[0].ports[0].port = 'HTTP_PORT'; }, 'spec.ingress[0].ports[0].port', /IANA/],
  ['bad protocol', (o) => { o.spec.ingress[0].ports[0].protocol = 'ICMP'; }, 'spec.ingress[0].ports[0].protocol', /TCP, UDP, SCTP/],
  ['endPort below port', (o) => { o.spec.ingress[0].ports[0].endPort = 79; }, 'spec.ingress[0].ports[0].endPort', /greater than or equal/],
  ['endPort without port', (o) => { o.spec.ingress[0].ports[0] = { endPort: 90 }; }, 'spec.ingress[0].ports[0].endPort', /port is not specified/],
  ['endPort with named port', (o) => { o.spec.ingress[0].ports[0] = { port: 'http', endPort: 90 }; }, 'spec.ingress[0].ports[0].endPort', /named port/],
  ['ports entry not an object', (o) => { o.spec.ingress[0].ports = [80]; }, 'spec.ingress[0].ports[0]', /object/],
];

t.test('invalid NetworkPolicies name the field', async (t) => {
  for (const [name, edit, field, reason] of policyCases) {
    const o = basePolicy();
    edit(o);
    expectInvalid(t, name, () => validateNetworkPolicy(o), field, reason);
  }
});

t.test('the error names the object too', async (t) => {
  const o = basePolicy();
  (o as any).spec.ingress[0].ports[0].port = 0;
  t.throws(() => validateNetworkPolicy(o), { message: /^NetworkPolicy shop\/web: spec\.ingress\[0\]\.ports\[0\]\.port: / });
  t.throws(() => validateNetworkPolicy(null), { code: 'CONTROL_INVALID_OBJECT', field: '(object)' });
  t.throws(() => validateNetworkPolicy('policy'), { code: 'CONTROL_INVALID_OBJECT' });
});

t.test('policyTypes defaults, as the API server sets them', async (t) => {
  const rows: Array<[string, Record<string, unknown>, boolean, boolean]> = [
    ['no types, no rules: Ingress', {}, true, false],
    ['no types, ingress rules: Ingress', { ingress: [{}] }, true, false],
    ['no types, egress rules: Ingress + Egress', { egress: [{}] }, true, true],
    ['no types, empty egress list: Ingress', { egress: [] }, true, false],
    ['empty types = absent', { policyTypes: [], egress: [{}] }, true, true],
    ['Egress only', { policyTypes: ['Egress'], ingress: [{}] }, false, true],
    ['Ingress only ignores egress rules', { policyTypes: ['Ingress'], egress: [{}] }, true, false],
    ['both', { policyTypes: ['Egress', 'Ingress'] }, true, true],
  ];
  for (const [name, spec, ing, eg] of rows) {
    const p = validateNetworkPolicy(netpol('shop', 'p', spec, true));
    t.equal(p.ingressIsolation, ing, `${name}: ingress`);
    t.equal(p.egressIsolation, eg, `${name}: egress`);
    if (!eg) t.same(p.egress, [], `${name}: inert egress rules dropped`);
    if (!ing) t.same(p.ingress, [], `${name}: inert ingress rules dropped`);
  }
});

t.test('normalization: absent vs empty lists, defaults, quoted ports, missing podSelector', async (t) => {
  const p = validateNetworkPolicy(netpol('shop', 'p', {
    ingress: [{}, { from: [], ports: [] }, { ports: [{ port: '8080' }, { port: 'http', protocol: 'UDP' }, { protocol: 'SCTP' }] }],
    egress: [{ to: [{ namespaceSelector: {} }, { podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['b', 'a', 'b'] }] } }] }],
  }));
  t.same(p.ingress[0], { peers: null, ports: null }, '{} = any peer, any port');
  t.same(p.ingress[1], { peers: null, ports: null }, 'empty lists = absent');
  t.same(p.ingress[2].ports, [{ protocol: 'TCP', port: 8080 }, { protocol: 'UDP', port: 'http' }, { protocol: 'SCTP' }]);
  t.same(p.egress[0].peers, [
    { kind: 'pods', namespaceSelector: { matchLabels: {}, matchExpressions: [] } },
    { kind: 'pods', podSelector: { matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a', 'b'] }] } },
  ]);
  const noSel = validateNetworkPolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x' }, spec: {} });
  t.same(noSel.podSelector, { matchLabels: {}, matchExpressions: [] }, 'omitted podSelector decodes as {} (every pod)');
  t.equal(noSel.key, 'default/x', 'manifest without namespace lands in the default one');
});

t.test('updates of fields policy never reads are no-ops', async (t) => {
  const a = basePolicy();
  const b = basePolicy();
  (b as any).metadata.resourceVersion = '999999';
  (b as any).metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
  (b as any).metadata.generation = 7;
  t.equal(fingerprint(validateNetworkPolicy(b)), fingerprint(validateNetworkPolicy(a)));
  const p1 = pod({ name: 'w', namespace: 'shop', labels: { app: 'web' }, ips: ['10.244.0.5'], ports: [[80, 'TCP', 'http']] });
  const p2 = pod({ name: 'w', namespace: 'shop', labels: { app: 'web' }, ips: ['10.244.0.5'], ports: [[80, 'TCP', 'http']] });
  (p2 as any).status.conditions[0].status = 'False';
  (p2 as any).status.containerStatuses = [{ name: 'c', ready: false, restartCount: 3 }];
  t.equal(fingerprint(validatePod(p2)), fingerprint(validatePod(p1)), 'readiness does not matter to policy');
});

const podCases: Array<[string, Edit, string, RegExp]> = [
  ['missing spec', (o) => { delete o.spec; }, 'spec', /required/],
  ['hostNetwork as string', (o) => { o.spec.hostNetwork = 'true'; }, 'spec.hostNetwork', /boolean/],
  ['bad podIP', (o) => { o.status.podIPs = [{ ip: '10.0.0.999' }]; }, 'status.podIPs[0].ip', /not an IP/],
  ['podIPs entry without ip', (o) => { o.status.podIPs = [{}]; }, 'status.podIPs[0].ip', /required/],
  ['bad single podIP', (o) => { delete o.status.podIPs; o.status.podIP = 'pod'; }, 'status.podIP', /not an IP/],
  ['containerPort missing', (o) => { delete o.spec.containers[0].ports[0].containerPort; }, 'spec.containers[0].ports[0].containerPort', /integer/],
  ['containerPort out of range', (o) => { o.spec.containers[0].ports[0].containerPort = 70000; }, 'spec.containers[0].ports[0].containerPort', /between/],
  ['bad port protocol', (o) => { o.spec.containers[0].ports[0].protocol = 'QUIC'; }, 'spec.containers[0].ports[0].protocol', /TCP, UDP, SCTP/],
  ['labels not an object', (o) => { o.metadata.labels = ['app=web']; }, 'metadata.labels', /object/],
];

t.test('invalid Pods name the field', async (t) => {
  for (const [name, edit, field, reason] of podCases) {
    const o = pod({ name: 'w', namespace: 'shop', labels: { app: 'web' }, ips: ['10.244.0.5'], ports: [[80, 'TCP', 'http']] });
    edit(o);
    expectInvalid(t, name, () => validatePod(o), field, reason);
  }
});

t.test('Pods: addresses, named ports (with sidecars), skip reasons', async (t) => {
  const p = pod({ name: 'w', namespace: 'shop', ips: ['10.244.0.5', 'FD00::05'], ports: [[80, 'TCP', 'http'], [53, 'UDP', 'dns'], [9000, 'TCP', '']] });
  (p as any).spec.initContainers = [
    { name: 'init', image: 'busybox', ports: [{ containerPort: 1, name: 'init-only' }] },
    { name: 'proxy', image: 'envoy', restartPolicy: 'Always', ports: [{ containerPort: 15001, name: 'proxy' }] },
  ];
  const v = validatePod(p);
  t.same(v.ips, ['10.244.0.5', 'fd00::5']);
  t.same(v.namedPorts, [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 'proxy', port: 15001, protocol: 'TCP' }],
    'unnamed ports and plain init containers are left out; sidecars count');
  t.equal(v.skip, undefined);
  t.equal(validatePod(pod({ name: 'h', namespace: 's', ips: ['192.168.1.1'], hostNetwork: true })).skip, 'host-network');
  t.equal(validatePod(pod({ name: 'd', namespace: 's', ips: ['10.0.0.1'], phase: 'Succeeded' })).skip, 'terminal');
  t.equal(validatePod(pod({ name: 'f', namespace: 's', ips: ['10.0.0.1'], phase: 'Failed' })).skip, 'terminal');
  t.equal(validatePod(pod({ name: 'p', namespace: 's' })).skip, 'no-ip');
  const single = pod({ name: 'o', namespace: 's', ips: ['10.0.0.1'] });
  delete (single as any).status.podIPs;
  t.same(validatePod(single).ips, ['10.0.0.1'], 'status.podIP alone (older API servers)');
});

t.test('Namespaces: the name label is always present and wins', async (t) => {
  t.same(validateNamespace(namespace('shop', { team: 'a' })).labels, { team: 'a', 'kubernetes.io/metadata.name': 'shop' });
  const bare = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ops', labels: { 'kubernetes.io/metadata.name': 'liar' } } };
  t.equal(validateNamespace(bare).labels['kubernetes.io/metadata.name'], 'ops');
  expectInvalid(t, 'no name', () => validateNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: {} }), 'metadata.name', /required/);
});

t.test('object kinds', async (t) => {
  t.equal(policyObjectKind(basePolicy()), 'NetworkPolicy');
  t.equal(policyObjectKind(pod({ name: 'a', namespace: 'b' })), 'Pod');
  t.equal(policyObjectKind(namespace('x')), 'Namespace');
  t.equal(policyObjectKind({ apiVersion: 'extensions/v1beta1', kind: 'NetworkPolicy' }), undefined);
  t.equal(policyObjectKind({ apiVersion: 'v1', kind: 'Service' }), undefined);
  t.equal(policyObjectKind(null), undefined);
});

t.test('label selectors', async (t) => {
  const sel = (matchLabels: Record<string, string>, matchExpressions: LabelSelector['matchExpressions'] = []): LabelSelector => ({ matchLabels, matchExpressions });
  const rows: Array<[string, LabelSelector, Record<string, string>, boolean]> = [
    ['empty selects everything', sel({}), {}, true],
    ['matchLabels hit', sel({ app: 'web' }), { app: 'web', tier: 'fe' }, true],
    ['matchLabels miss', sel({ app: 'web' }), { app: 'db' }, false],
    ['matchLabels all required', sel({ app: 'web', tier: 'fe' }), { app: 'web' }, false],
    ['In hit', sel({}, [{ key: 'app', operator: 'In', values: ['db', 'web'] }]), { app: 'web' }, true],
    ['In without the key', sel({}, [{ key: 'app', operator: 'In', values: ['web'] }]), {}, false],
    ['NotIn hit', sel({}, [{ key: 'app', operator: 'NotIn', values: ['web'] }]), { app: 'web' }, false],
    ['NotIn without the key matches', sel({}, [{ key: 'app', operator: 'NotIn', values: ['web'] }]), {}, true],
    ['Exists', sel({}, [{ key: 'app', operator: 'Exists', values: [] }]), { app: '' }, true],
    ['Exists miss', sel({}, [{ key: 'app', operator: 'Exists', values: [] }]), {}, false],
    ['DoesNotExist', sel({}, [{ key: 'app', operator: 'DoesNotExist', values: [] }]), { other: 'x' }, true],
    ['DoesNotExist miss', sel({}, [{ key: 'app', operator: 'DoesNotExist', values: [] }]), { app: 'x' }, false],
    ['labels AND expressions', sel({ tier: 'fe' }, [{ key: 'app', operator: 'In', values: ['web'] }]), { app: 'web', tier: 'be' }, false],
    ['inherited property names are not labels', sel({}, [{ key: 'constructor', operator: 'Exists', values: [] }]), {}, false],
  ];
  for (const [name, s, labels, want] of rows) t.equal(selectorMatches(s, labels), want, name);
});

t.test('CIDRs', async (t) => {
  const c = (s: string) => { const r = readCidr(s, 'clear'); if (typeof r === 'string') throw new Error(r); return r; };
  t.equal(formatCidr(c('10.1.2.3/16')), '10.1.0.0/16');
  t.equal(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
  t.equal(formatCidr(c('FD00:0:0:1::7/64')), 'fd00:0:0:1::/64');
  t.equal(formatCidr(c('::ffff:10.0.0.1/128')), '::ffff:a00:1/128');
  t.equal(formatCidr(c('::/0')), '::/0');
  t.ok(cidrContains(c('10.0.0.0/8'), c('10.200.0.0/16')));
  t.notOk(cidrContains(c('10.0.0.0/8'), c('11.0.0.0/16')));
  t.notOk(cidrContains(c('10.0.0.0/16'), c('10.0.0.0/8')));
  t.notOk(cidrContains(c('::/0'), c('10.0.0.0/8')), 'families never contain each other');
  for (const bad of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/-1', 'x/8', '::/129', '10.0.0.0/8/8']) t.type(readCidr(bad, 'clear'), 'string', bad);
});
