// Zero-config defaults resolved from what the node sees (src/daemon/defaults.ts): pod CIDRs from
// the Node, service CIDRs from ServiceCIDR objects or kubeadm's default, uplinks from the links
// holding the InternalIPs or the default route. Explicit config wins every time.
import t from 'tap';
import {
  KUBEADM_SERVICE_CIDR_V4, KUBEADM_SERVICE_CIDR_V6, resolvePodCIDRs, resolveServiceCIDRs, resolveUplinks, sameValues, selfNodeFromV1,
  type SelfNode,
} from '../../src/daemon/defaults';

const n1: SelfNode = { name: 'n1', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], internalIPs: ['192.168.1.5', 'fd00:1::5'] };
const v4only: SelfNode = { name: 'n1', podCIDRs: ['10.244.1.0/24'], internalIPs: ['192.168.1.5'] };

t.test('podCIDRs', async (t) => {
  t.same(resolvePodCIDRs([], n1), { values: n1.podCIDRs, source: 'Node n1' }, 'from the Node object');
  t.same(resolvePodCIDRs(['10.1.0.0/24'], n1), { values: ['10.1.0.0/24'], source: 'config' }, 'explicit config wins');
  t.same(resolvePodCIDRs(['10.1.0.0/24'], undefined), { values: ['10.1.0.0/24'], source: 'config' }, 'config without a Node');
  t.equal(resolvePodCIDRs([], undefined), undefined, 'no Node: nothing yet (podnetd waits)');
  t.equal(resolvePodCIDRs([], { ...n1, podCIDRs: [] }), undefined, 'a Node without allocated pod CIDRs: nothing yet');
});

t.test('serviceCIDRs', async (t) => {
  t.same(resolveServiceCIDRs([], [], v4only.podCIDRs), { values: [KUBEADM_SERVICE_CIDR_V4], source: 'kubeadm default' }, 'no ServiceCIDR: kubeadm default');
  t.same(resolveServiceCIDRs([], [], n1.podCIDRs), { values: [KUBEADM_SERVICE_CIDR_V4, KUBEADM_SERVICE_CIDR_V6], source: 'kubeadm default' },
    'dual-stack (IPv6 pod CIDR): the IPv6 default too');
  t.same(resolveServiceCIDRs([], [{ name: 'kubernetes', cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] }], v4only.podCIDRs),
    { values: ['10.96.0.0/16', 'fd00:10:96::/112'], source: 'ServiceCIDR kubernetes' }, 'from the ServiceCIDR object');
  t.same(resolveServiceCIDRs([], [{ name: 'extra', cidrs: ['fd00:20::/112', '10.100.0.0/16'] }, { name: 'kubernetes', cidrs: ['10.96.0.0/16'] }, { name: 'empty', cidrs: [] }], []),
    { values: ['10.100.0.0/16', '10.96.0.0/16', 'fd00:20::/112'], source: 'ServiceCIDR extra, kubernetes' }, 'several objects: the union, IPv4 first, empty ones ignored');
  t.same(resolveServiceCIDRs(['10.0.0.0/16'], [{ name: 'kubernetes', cidrs: ['10.96.0.0/16'] }], n1.podCIDRs), { values: ['10.0.0.0/16'], source: 'config' },
    'explicit config wins over ServiceCIDR objects');
});

t.test('uplinks', async (t) => {
  const links = [
    { name: 'lo', addresses: [] },
    { name: 'eth0', addresses: ['192.168.1.5', '2001:db8::5'] },
    { name: 'eth1', addresses: ['fd00:1::5'] },
    { name: 'wlan0', addresses: ['10.9.9.9'] },
  ];
  t.same(resolveUplinks([], true, n1, links, ['wlan0']), { values: ['eth0', 'eth1'], source: 'InternalIP 192.168.1.5, fd00:1::5' },
    'the links holding the InternalIPs, over the default route');
  t.same(resolveUplinks([], true, { ...n1, internalIPs: ['FD00:1:0::5'] }, links, []), { values: ['eth1'], source: 'InternalIP fd00:1::5' }, 'addresses compared canonically');
  t.same(resolveUplinks([], true, undefined, links, ['wlan0', 'wlan0']), { values: ['wlan0'], source: 'default route' }, 'no Node: the default route\'s link');
  t.same(resolveUplinks([], true, { ...n1, internalIPs: ['172.16.0.1'] }, links, ['eth0']), { values: ['eth0'], source: 'default route' },
    'no link holds the InternalIP: the default route\'s link');
  t.match(resolveUplinks([], true, undefined, links, []), { values: [], source: /none/ }, 'neither: no uplinks');
  t.same(resolveUplinks(['eth9'], false, n1, links, ['wlan0']), { values: ['eth9'], source: 'config' }, 'explicit config wins');
  t.same(resolveUplinks([], false, n1, links, ['wlan0']), { values: [], source: 'config' }, 'an explicit [] stays off');
});

t.test('an address change is a change; order is not', async (t) => {
  t.ok(sameValues(['a', 'b'], ['b', 'a']));
  t.notOk(sameValues(['10.96.0.0/16'], ['10.96.0.0/12']));
  t.notOk(sameValues(['a'], ['a', 'b']));
});

t.test('this node\'s Node object', async (t) => {
  const node = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v1', kind: 'Node', metadata: { name },
    spec: { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.1.5' }, { type: 'Hostname', address: name }] }, ...extra,
  });
  t.same(selfNodeFromV1(node('n1'), 'n1'), { name: 'n1', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], internalIPs: ['192.168.1.5'] });
  t.equal(selfNodeFromV1(node('n2'), 'n1'), undefined, 'another node\'s: not ours');
  t.throws(() => selfNodeFromV1(node('n1', { spec: { podCIDRs: ['10.244.1.1/24'] } }), 'n1'), { code: 'CONTROL_INVALID_OBJECT' }, 'host bits: invalid');
});
