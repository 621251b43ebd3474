// The drop sink: how a tc filter drops a packet on this kernel. There is no act_gact (no
// `action drop`) and no cls_flower; act_mirred exists, and mirred redirecting
// to a device that is down drops the packet (TC_ACT_SHOT) and counts it in the action's stats.
// So every "drop" filter podnet installs (steering.ts on the uplinks, antispoof.ts on pod veths)
// ends in `action mirred egress redirect dev podnet-drop`, a veth pair that is never set up.
// Should the sink vanish, mirred still answers SHOT for a redirect to a missing device.
//
// Kept free of heavy imports: the CNI plugin reads DROP_DEV at every ADD (it creates the sink
// itself over its own netlink socket, src/netlink/link.ts ensureDownVeth); the netlink modules
// below are the ones ADD has loaded already.
import { closeSync, openSync } from 'node:fs';
import { ensureDownVeth, ensureDownVethIn } from '../netlink/link';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { netnsFile } from '../netns/exec';

/** The down veth drop rules redirect to (its peer is DROP_DEV + "p"). Same name as steering.ts's. */
export const DROP_DEV = 'podnet-drop';
export const DROP_PEER = `${DROP_DEV}p`;

/**
 * Creates the sink in `netns` (a name or a namespace file; absent: the current namespace)
 * unless it exists, over rtnetlink: in another namespace by creating both ends there from
 * here (netlink/link.ts ensureDownVethIn). Idempotent; a concurrent creator (podnetd's
 * steering, a CNI ADD) winning the race is fine.
 */
export async function ensureDropSink(netns?: string): Promise<void> {
  const sock = openRtnl();
  try {
    if (!netns) {
      await ensureDownVeth(sock, DROP_DEV, DROP_PEER);
      return;
    }
    const fd = openSync(netnsFile(netns), 'r');
    try { await ensureDownVethIn(sock, fd, DROP_DEV, DROP_PEER); } finally { closeSync(fd); }
  } finally {
    closeRtnl(sock);
  }
}
