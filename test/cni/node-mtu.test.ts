// The pod MTU default (src/cni/config.ts + ipam/node.ts): a network config without `mtu` takes
// the one podnetd recorded for this node (VXLAN: the uplink's minus the encapsulation), else 1500.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/cni/config';

const conf = (extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({
  cniVersion: '1.0.0', name: 'podnet', type: 'podnet', ipam: { type: 'podnet', ranges: [[{ subnet: '10.244.1.0/24' }]] }, ...extra,
}));

t.test('mtu default follows the node state', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-mtu-'));
  const file = path.join(dir, 'node.json');
  const saved = process.env.PODNET_NODE_STATE;
  process.env.PODNET_NODE_STATE = file;
  t.teardown(() => { if (saved === undefined) delete process.env.PODNET_NODE_STATE; else process.env.PODNET_NODE_STATE = saved; rmSync(dir, { recursive: true, force: true }); });

  t.equal(parseConfig(conf()).mtu, 1500, 'no node state: 1500');
  writeFileSync(file, JSON.stringify({ podCIDRs: ['10.244.1.0/24'], mtu: 1450 }));
  t.equal(parseConfig(conf()).mtu, 1450, 'VXLAN node: the recorded pod MTU');
  t.equal(parseConfig(conf({ mtu: 9000 })).mtu, 9000, 'the config wins');
  writeFileSync(file, JSON.stringify({ podCIDRs: ['10.244.1.0/24'] }));
  t.equal(parseConfig(conf()).mtu, 1500, 'routed node (no mtu recorded): 1500');
  writeFileSync(file, JSON.stringify({ podCIDRs: ['10.244.1.0/24'], mtu: 'big' }));
  t.equal(parseConfig(conf()).mtu, 1500, 'a nonsense value is ignored');
  writeFileSync(file, '{not json');
  t.equal(parseConfig(conf()).mtu, 1500, 'an unreadable file is ignored');
});
