// The drop sink: how a tc filter drops a packet on this kernel. There is no act_gact (no
// `action drop`) and no cls_flower; act_mirred exists, and mirred redirecting
// to a device that is down drops the packet (TC_ACT_SHOT) and counts it in the action's stats.
// So every "drop" filter podnet installs (steering.ts on the uplinks, antispoof.ts on pod veths)
// ends in `action mirred egress redirect dev podnet-drop`, a veth pair that is never set up.
// Should the sink vanish, mirred still answers SHOT for a redirect to a missing device.
//
// Kept free of heavy imports: the CNI plugin reads DROP_DEV at every ADD (it creates the sink
// itself over its own netlink socket, src/netlink/link.ts ensureDownVeth).
import { run } from '../netns/exec';

/** The down veth drop rules redirect to (its peer is DROP_DEV + "p"). Same name as steering.ts's. */
export const DROP_DEV = 'podnet-drop';
export const DROP_PEER = `${DROP_DEV}p`;

/** Creates the sink in `netns` (absent: the current namespace) unless it exists. Idempotent. */
export async function ensureDropSink(netns?: string): Promise<void> {
  const have = await run(netns ?? null, ['ip', '-o', 'link', 'show', 'dev', DROP_DEV]).catch(() => ({ stdout: '' }));
  if (have.stdout) return;
  try {
    await run(netns ?? null, ['ip', 'link', 'add', DROP_DEV, 'type', 'veth', 'peer', 'name', DROP_PEER]);
  } catch (e) {
    // A concurrent creator (podnetd's steering, another CNI ADD) won the race: fine.
    const again = await run(netns ?? null, ['ip', '-o', 'link', 'show', 'dev', DROP_DEV]).catch(() => ({ stdout: '' }));
    if (!again.stdout) throw e;
  }
}
