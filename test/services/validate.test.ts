// Validation: every invalid object becomes an InvalidObjectError naming the field (never a
// crash, never a TypeError); irrelevant fields (resourceVersion, annotations) never reach the model.
import t from 'tap';
import { InvalidObjectError } from '../../src/kube/errors';
import { fingerprint } from '../../src/kube/objects';
import { objectKind, validateEndpointSlice, validateNode, validateService } from '../../src/services/validate';
import { bumped, node, service, slice } from './fixtures/builders';

type Edit = (o: any) => void;
const svcCases: Array<[string, Edit, string, RegExp]> = [
  ['missing metadata', (o) => { delete o.metadata; }, 'metadata', /required/],
  ['missing name', (o) => { delete o.metadata.name; }, 'metadata.name', /required/],
  ['name not a string', (o) => { o.metadata.name = 42; }, 'metadata.name', /string/],
  ['missing spec', (o) => { delete o.spec; }, 'spec', /required/],
  ['ports not a list', (o) => { o.spec.ports = { port: 80 }; }, 'spec.ports', /list/],
  ['port out of range', (o) => { o.spec.ports[0].port = 70000; }, 'spec.ports[0].port', /between 1 and 65535/],
  ['port as string', (o) => { o.spec.ports[0].port = '80'; }, 'spec.ports[0].port', /integer/],
  ['bad protocol', (o) => { o.spec.ports[0].protocol = 'ICMP'; }, 'spec.ports[0].protocol', /TCP, UDP, SCTP/],
  ['unnamed port among several', (o) => { o.spec.ports.push({ port: 81, protocol: 'TCP', targetPort: 81 }); }, 'spec.ports[1].name', /more than one port/],
  ['duplicate port name', (o) => { o.spec.ports.push({ name: 'http', port: 81, protocol: 'TCP' }); }, 'spec.ports[1].name', /duplicate/],
  ['bad named targetPort', (o) => { o.spec.ports[0].targetPort = 'Not_A_Name!'; }, 'spec.ports[0].targetPort', /IANA/],
  ['targetPort 0', (o) => { o.spec.ports[0].targetPort = 0; }, 'spec.ports[0].targetPort', /between/],
  ['bad clusterIP', (o) => { o.spec.clusterIP = '10.96.0.300'; o.spec.clusterIPs = ['10.96.0.300']; }, 'spec.clusterIPs[0]', /not an IP/],
  ['clusterIP != clusterIPs[0]', (o) => { o.spec.clusterIP = '10.96.0.11'; }, 'spec.clusterIP', /clusterIPs\[0\]/],
  ['two IPv4 clusterIPs', (o) => { o.spec.clusterIPs = ['10.96.0.10', '10.96.0.11']; }, 'spec.clusterIPs', /different families/],
  ['bad sessionAffinity', (o) => { o.spec.sessionAffinity = 'Cookie'; }, 'spec.sessionAffinity', /None, ClientIP/],
  ['affinity timeout too big', (o) => { o.spec.sessionAffinity = 'ClientIP'; o.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 86401 } }; }, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', /between 1 and 86400/],
  ['bad internalTrafficPolicy', (o) => { o.spec.internalTrafficPolicy = 'Nearby'; }, 'spec.internalTrafficPolicy', /Cluster, Local/],
  ['bad type', (o) => { o.spec.type = 'Magic'; }, 'spec.type', /ClusterIP/],
  ['label value not a string', (o) => { o.metadata.labels.app = 7; }, 'metadata.labels[app]', /string/],
];

t.test('invalid Services name the field', async (t) => {
  for (const [name, edit, field, reason] of svcCases) {
    const o = service({ name: 'web', namespace: 'shop' });
    edit(o);
    try {
      validateService(o);
      t.fail(`${name}: accepted`);
    } catch (e) {
      t.type(e, InvalidObjectError, `${name}: error class`);
      const err = e as InvalidObjectError;
      t.equal(err.code, 'CONTROL_INVALID_OBJECT');
      t.equal(err.field, field, `${name}: field`);
      t.match(err.reason, reason, `${name}: reason`);
    }
  }
});

const sliceCases: Array<[string, Edit, string, RegExp]> = [
  ['missing addressType', (o) => { delete o.addressType; }, 'addressType', /IPv4, IPv6, FQDN/],
  ['endpoint without addresses', (o) => { o.endpoints[0].addresses = []; }, 'endpoints[0].addresses', /at least one/],
  ['IPv6 address in IPv4 slice', (o) => { o.endpoints[0].addresses = ['fd00::1']; }, 'endpoints[0].addresses[0]', /not an IPv4/],
  ['garbage address', (o) => { o.endpoints[0].addresses = ['pod-1']; }, 'endpoints[0].addresses[0]', /not an IP/],
  ['ready as string', (o) => { o.endpoints[0].conditions.ready = 'true'; }, 'endpoints[0].conditions.ready', /boolean/],
  ['port out of range', (o) => { o.ports[0].port = 0; }, 'ports[0].port', /between/],
  ['hints without names', (o) => { o.endpoints[0].hints = { forZones: [{}] }; }, 'endpoints[0].hints.forZones[0].name', /required/],
  ['endpoints not a list', (o) => { o.endpoints = 'x'; }, 'endpoints', /list/],
];

t.test('invalid EndpointSlices name the field', async (t) => {
  for (const [name, edit, field, reason] of sliceCases) {
    const o = slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] });
    edit(o);
    t.throws(() => validateEndpointSlice(o), { code: 'CONTROL_INVALID_OBJECT', field, reason }, name);
  }
});

t.test('garbage never crashes', async (t) => {
  for (const g of [null, undefined, 42, 'svc', [], { metadata: [] }, { metadata: { name: 'x' }, spec: 'y' }]) {
    t.throws(() => validateService(g), InvalidObjectError);
    t.throws(() => validateEndpointSlice(g), InvalidObjectError);
  }
  t.throws(() => validateNode({}), { code: 'CONTROL_INVALID_OBJECT', field: 'metadata' });
});

t.test('normalized forms drop what the data plane never reads', async (t) => {
  const s = service({ name: 'web' });
  const s2 = bumped(s, (o) => { o.metadata.annotations.note = 'x'; o.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } }; });
  t.equal(fingerprint(validateService(s)), fingerprint(validateService(s2)), 'annotation/status/resourceVersion change is a no-op');
  const sl = slice({ service: 'web', endpoints: [{ ip: '10.244.1.5' }] });
  const sl2 = bumped(sl, (o) => { o.metadata.annotations['endpoints.kubernetes.io/last-change-trigger-time'] = '2026-01-01T00:00:00Z'; });
  t.equal(fingerprint(validateEndpointSlice(sl)), fingerprint(validateEndpointSlice(sl2)));
  const sl3 = bumped(sl, (o) => { o.endpoints[0].conditions.ready = false; });
  t.not(fingerprint(validateEndpointSlice(sl)), fingerprint(validateEndpointSlice(sl3)));
});

t.test('slice without the service-name label belongs to no service', async (t) => {
  t.equal(validateEndpointSlice(slice({ service: 'web', noServiceLabel: true, endpoints: [] })), null);
});

t.test('namespace default for manifests, node zone, kinds', async (t) => {
  const o = service({ name: 'web' });
  delete o.metadata.namespace;
  t.throws(() => validateService(o), { code: 'CONTROL_INVALID_OBJECT', field: 'metadata.namespace' });
  t.equal(validateService(o, 'default').key, 'default/web');
  t.same(validateNode(node('node-a', 'zone-1')), { name: 'node-a', zone: 'zone-1' });
  t.same(validateNode(node('node-b')), { name: 'node-b' });
  t.equal(objectKind(service({ name: 'x' })), 'Service');
  t.equal(objectKind(slice({ service: 'x', endpoints: [] })), 'EndpointSlice');
  t.equal(objectKind({ apiVersion: 'discovery.k8s.io/v1beta1', kind: 'EndpointSlice' }), undefined);
  t.equal(objectKind({ apiVersion: 'apps/v1', kind: 'Deployment' }), undefined);
});
