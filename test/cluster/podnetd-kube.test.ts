// podnetd with `cluster: {mode: routed}` on the Kubernetes API (the fake list+watch server,
// reached from the node namespace through socat and a unix-socket relay as in
// test/daemon/kube-source.test.ts): no podCIDRs in the config, so podnetd takes them from its
// own Node object, wires the bridge with them and records them for the CNI IPAM; a route to the
// other Node's pod CIDR appears via its InternalIP, and a Node deleted from the API is withdrawn.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Podnetd } from '../../src/sandbox';
import { FakeApiServer, NODES } from '../helpers/fake-apiserver';
import { daemonEnv } from '../daemon/fixtures';
import { apiInNode } from '../helpers/api-in-node';
import { haveCommand, isRoot, requires } from '../helpers/privileged';
import { sandboxFor } from '../helpers/sandbox';

const nodeObj = (name: string, podCIDRs: string[], ip: string) => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name },
  spec: { podCIDR: podCIDRs[0], podCIDRs }, status: { addresses: [{ type: 'InternalIP', address: ip }] },
});

t.test('podnetd programs cross-node routes from the API\'s Nodes', requires({ root: isRoot, socat: () => haveCommand('socat') }), async (t) => {
  const sb = await sandboxFor(t);
  if (!sb) return;
  const ip = (...a: string[]) => sb.exec(sb.nodeNs, ['ip', ...a]);
  await ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p');
  await ip('addr', 'add', '192.168.77.11/24', 'dev', 'eth1');
  await ip('link', 'set', 'eth1p', 'up');
  await ip('link', 'set', 'eth1', 'up');

  const api = new FakeApiServer();
  api.put(NODES, nodeObj(sb.nodeNs, [sb.podCIDR4, sb.podCIDR6], '192.168.77.11'));
  api.put(NODES, nodeObj('other', ['10.244.2.0/24', 'fd00:10:244:2::/64'], '192.168.77.12'));
  await api.listen();
  t.teardown(() => api.close());
  const kubeconfig = await apiInNode(t, sb, api.port);

  const podnetd = await Podnetd.startManifests(sb, {
    env: daemonEnv(), config: { manifests: null, kubeconfig, podCIDRs: [], cluster: { mode: 'routed', uplink: 'eth1' } },
  });
  const routes = async () => JSON.parse((await ip('-j', 'route', 'show', 'proto', '112')).stdout) as { dst: string; gateway: string; dev: string }[];

  const state = JSON.parse(readFileSync(path.join(path.dirname(podnetd.stateFile), 'node.json'), 'utf8')) as { podCIDRs: string[] };
  t.same(state.podCIDRs, [sb.podCIDR4, sb.podCIDR6], 'pod CIDRs from this node\'s Node object, recorded for the IPAM');
  const addrs = (await ip('-j', 'addr', 'show', 'dev', sb.bridge)).stdout;
  t.match(addrs, sb.podCIDR4.replace(/0\/24$/, '1'), 'the bridge got its gateway from them');

  await podnetd.proc.waitForLine(/"msg":"cross-node routes synced"/, { timeoutMs: 15_000 });
  t.same((await routes()).map((r) => [r.dst, r.gateway, r.dev]), [['10.244.2.0/24', '192.168.77.12', 'eth1']], 'a route to the other node');

  const from = podnetd.proc.lines.length;
  api.delete(NODES, undefined, 'other');
  await podnetd.proc.waitForLine((l) => l.includes('"msg":"cross-node routes synced"') && l.includes('10.244.2.0/24'), { from, timeoutMs: 15_000 });
  t.same(await routes(), [], 'a Node deleted from the API is withdrawn');
});
