// setClusterPeers (the cluster's addresses off this node, for the kernel flow cache): a bad
// list is a coded error naming the entry; without the fast path the call says so. No root.
import t from 'tap';
import { Engine } from '../../src/engine';

t.test('setClusterPeers: bad input is a coded error, the fast path off is one too', async (t) => {
  const e = new Engine({ flowCapacity: 64 });
  t.teardown(() => e.close());
  t.throws(() => e.setClusterPeers(['10.244.0.0/16', 'nope']), { code: 'ENGINE_BAD_ARGUMENT', message: /peers\[1\].*nope/ });
  t.throws(() => e.setClusterPeers(['10.244.0.0/33']), { code: 'ENGINE_BAD_ARGUMENT', message: /peers\[0\]/ });
  t.throws(() => e.setClusterPeers([7 as never]), { code: 'ENGINE_BAD_ARGUMENT' });
  t.throws(() => e.setClusterPeers(null as never), { code: 'ENGINE_BAD_ARGUMENT', message: /not an array/ });
  t.throws(() => e.setClusterPeers(['10.244.0.0/16', 'fd00:10:244::/48']), { code: 'ENGINE_FAST_PATH', message: /fast path is off/ });
});
