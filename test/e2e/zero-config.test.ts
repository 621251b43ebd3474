// A node operator's first hour: podnetd started with only `--manifests DIR --node-name NAME`
// (a config file holds nothing but the sandbox's private paths: no podCIDRs, no serviceCIDRs, no
// uplinks). The manifest directory holds the Node object (spec.podCIDRs, InternalIPs) and a
// NodePort Service. podnetd takes the pod CIDRs from the Node, kubeadm's service CIDRs (no
// ServiceCIDR object), the uplink holding the InternalIPs, and serves the ClusterIP and the
// NodePort to an outside namespace. A ServiceCIDR added later moves the service routes; a new
// uplink address (a DHCP renewal) answers NodePorts within 2 s, no restart.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { ControlClient } from '../../src/ctl/client';
import { formatStatus } from '../../src/ctl/format';
import { Podnetd, Sandbox } from '../../src/sandbox';
import { serviceObjects, writeManifest } from '../../src/sandbox/manifests';
import { distFile, repoRoot } from '../../src/sandbox/paths';
import { BACKEND_HTTP, eventually, privileged } from './fixtures/helpers';
import { NODE4, NODE6, UPLINK, addOutside, curl } from './fixtures/outside';

const VIP = '10.96.0.10', VIP6 = 'fd00:10:96::a', NODE_PORT = 30080, NEW4 = '192.168.50.3';


t.test('podnetd with only --manifests and --node-name', async (t) => {
  if (!(await privileged(t))) return;
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  const ep1 = await sb.addPod('ep1');
  await sb.serve(ep1, 'http-server', BACKEND_HTTP, ep1.name);
  // The outside reaches the service range through the node, as a host next to it would.
  const out = await addOutside(sb, ['10.96.0.0/12']);

  const node = sb.nodeNs;
  const p = Podnetd.paths(sb);
  mkdirSync(p.manifests, { recursive: true });
  const web = serviceObjects({ name: 'web', clusterIPs: [VIP, VIP6], ports: [{ name: 'http', port: 80, targetPort: BACKEND_HTTP }], endpoints: [{ pod: ep1 }], nodeName: node });
  const svc = web[0] as { spec: Record<string, unknown> };
  svc.spec.type = 'NodePort';
  svc.spec.ports = (svc.spec.ports as Record<string, unknown>[]).map((x) => ({ ...x, nodePort: NODE_PORT }));
  writeManifest(p.manifests, 'node.yaml', [{
    apiVersion: 'v1', kind: 'Node', metadata: { name: node },
    spec: { podCIDRs: [sb.podCIDR4, sb.podCIDR6] },
    status: { addresses: [{ type: 'InternalIP', address: NODE4 }, { type: 'InternalIP', address: NODE6 }, { type: 'Hostname', address: node }] },
  }]);
  writeManifest(p.manifests, 'web.yaml', web);
  // Only what keeps this podnetd's files out of /run/podnet (other tests run beside it).
  const configFile = path.join(p.dir, 'paths.yaml');
  writeFileSync(configFile, stringify({
    bridge: sb.bridge, tun: { name: sb.tun }, stateFile: p.state, controlSocket: p.socket, cniSocket: p.cniSocket,
    nodeStateFile: path.join(path.dirname(p.state), 'node.json'), healthzBindAddress: '127.0.0.1:10256', metricsBindAddress: '127.0.0.1:10249',
  }));
  distFile('src/daemon/main.js');
  const proc = await sb.spawn(node, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', configFile, '--manifests', p.manifests, '--node-name', node],
    { readyLine: /"msg":"ready"/, timeoutMs: 20_000 });
  t.teardown(() => proc.stop(5000));
  const ctl = new ControlClient(p.socket);

  await t.test('each default shows in status with where it came from', async (t) => {
    const st = await ctl.status();
    t.same(st.network?.podCIDRs, { values: [sb.podCIDR4, sb.podCIDR6], source: `Node ${node}` });
    t.same(st.network?.serviceCIDRs, { values: ['10.96.0.0/12', 'fd00:10:96::/112'], source: 'kubeadm default' }, 'dual-stack Node: both kubeadm ranges');
    t.same(st.network?.uplinks, { values: [UPLINK], source: `InternalIP ${NODE4}, ${NODE6}` });
    const text = formatStatus(st);
    t.match(text, `podCIDRs: ${sb.podCIDR4}, ${sb.podCIDR6} (Node ${node})`);
    t.match(text, 'serviceCIDRs: 10.96.0.0/12, fd00:10:96::/112 (kubeadm default)');
    t.match(text, `uplinks: ${UPLINK} (InternalIP ${NODE4}, ${NODE6})`);
    t.match((await sb.ipNode('route')).stdout, new RegExp(`10\\.96\\.0\\.0/12 dev ${sb.tun}`), 'the default service range is routed into the TUN');
  });

  await t.test('the outside reaches the ClusterIP and the NodePort', async (t) => {
    const c = await curl(sb, out.ns, VIP, 80);
    t.same([c.code, c.body], ['200', 'ep1'], 'ClusterIP');
    const n = await curl(sb, out.ns, NODE4, NODE_PORT);
    t.same([n.code, n.body], ['200', 'ep1'], 'NodePort on the InternalIP');
    const n6 = await curl(sb, out.ns, NODE6, NODE_PORT);
    t.equal(n6.code, '200', 'NodePort on the IPv6 InternalIP');
  });

  await t.test('a ServiceCIDR object moves the service routes at run time', async (t) => {
    writeManifest(p.manifests, 'servicecidr.yaml', [{ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] } }]);
    await eventually('routes moved', async () => (await sb.ipNode('route')).stdout, (r) => r.includes(`10.96.0.0/16 dev ${sb.tun}`) && !r.includes('10.96.0.0/12'));
    t.pass('10.96.0.0/16 routed, 10.96.0.0/12 gone');
    t.same((await ctl.status()).network?.serviceCIDRs, { values: ['10.96.0.0/16', 'fd00:10:96::/112'], source: 'ServiceCIDR kubernetes' });
    t.equal((await curl(sb, out.ns, VIP, 80)).code, '200', 'the ClusterIP still answers');
  });

  await t.test('a new uplink address (DHCP renewal) answers NodePorts within 2 s', async (t) => {
    await sb.ipNode('addr', 'del', `${NODE4}/24`, 'dev', UPLINK);
    const t0 = Date.now();
    await sb.ipNode('addr', 'add', `${NEW4}/24`, 'dev', UPLINK);
    const r = await eventually('NodePort on the new address', () => curl(sb, out.ns, NEW4, NODE_PORT, 1), (x) => x.code === '200', 5000, 50);
    const ms = Date.now() - t0;
    t.equal(r.body, 'ep1');
    t.ok(ms <= 2000, `answered ${ms} ms after the address was added`);
    t.same((await ctl.status()).network?.uplinkAddresses, [NEW4, NODE6], 'status shows the new address');
    t.ok(proc.running, 'no restart');
  });
});
