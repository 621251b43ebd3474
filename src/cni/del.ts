// DEL: idempotent teardown. It never needs the container's namespace: deleting the host end
// (named from container ID + ifname) removes the pair, so it works when the netns is gone.
//   addresses-of-pod → delete-veth (+ its kernel anti-spoofing entry, hooks.ts) → proxy-ndp → ipam-release
// Every step treats "already gone" as success; the IP is released in every case.
import type { NetConf } from './config';
import type { CniEnv } from './env';
import { openIpam } from './ipam/index';
import { canonicalIp } from '../net/ip';
import { deleteLink, getLink } from '../netlink/link';
import { delProxyNeigh } from '../netlink/neigh';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { dropKernelAntispoof, type CniHooks } from './hooks';
import { aliasAddresses, hostVethName } from './host-link';
import type { Log } from './log';

export async function cmdDel(conf: NetConf, env: CniEnv, log: Log, hooks: CniHooks = {}): Promise<void> {
  const ipam = openIpam(conf, env);
  const sock = openRtnl();
  try {
    // The store knows the pod's addresses; a delegated IPAM does not, but runtimes pass the
    // cached ADD result as prevResult, and the host veth's alias carries them (host-link.ts podAlias).
    const held = ipam.held();
    const fromPrev = (conf.prevResult?.ips ?? []).map((i) => i.address.split('/')[0]);
    const hostName = hostVethName(env.containerId, env.ifname);
    const link = await getLink(sock, hostName);
    const fromAlias = aliasAddresses(link?.alias);
    const v6 = [...new Set([...held, ...fromPrev, ...fromAlias].map(canonicalIp))].filter((a) => a.includes(':'));
    log.debug({ step: 'delete-veth' }, 'step');
    await deleteLink(sock, hostName);
    if (link) dropKernelAntispoof(hooks, link.index, hostName, log);
    if (v6.length) {
      log.debug({ step: 'proxy-ndp' }, 'step');
      const br = await getLink(sock, conf.bridge);
      if (br) for (const a of v6) await delProxyNeigh(sock, br.index, a);
    }
    log.debug({ step: 'ipam-release' }, 'step');
    await ipam.del();
  } finally {
    closeRtnl(sock);
  }
}
