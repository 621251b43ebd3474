// GC (1.1.0): everything this network holds that the runtime no longer lists in
// cni.dev/valid-attachments goes: IPAM reservations, host veths on the bridge (named "pn…" from
// container ID + ifname, so a crash between veth and reservation is covered) and proxy-NDP
// entries of released IPv6 addresses. STATUS: can ADD work right now?
import type { NetConf } from './config';
import type { CniEnv } from './env';
import { ConfigError, IncompatibleVersionError } from './errors';
import { canonicalIp } from './ip';
import { isBuiltin, openIpam } from './ipam/index';
import type { BuiltinIpam } from './ipam/builtin';
import { bridgePorts, closeRtnl, deleteLink, delProxyNeigh, getLink, hostVethName, listProxyNeighs, openRtnl } from './link';
import type { Log } from './log';
import { allowsGcStatus } from './version';

export async function cmdGc(conf: NetConf, env: CniEnv, log: Log): Promise<void> {
  if (!allowsGcStatus(conf.cniVersion)) throw new IncompatibleVersionError('config version does not allow GC', conf.cniVersion);
  const valid = conf.validAttachments;
  if (!valid) throw new ConfigError('cni.dev/valid-attachments', undefined, 'required for GC');
  const ipam = openIpam(conf, env);
  await ipam.gc(valid);

  const sock = openRtnl();
  try {
    const br = await getLink(sock, conf.bridge);
    if (!br) return;
    const keep = new Set(valid.map((a) => hostVethName(a.containerID, a.ifname)));
    for (const port of await bridgePorts(sock, br.index)) {
      if (/^pn[0-9a-f]{11}$/.test(port) && !keep.has(port)) {
        log.info({ veth: port }, 'gc: stale host veth');
        await deleteLink(sock, port);
      }
    }
    if (isBuiltin(conf.ipam)) {
      const reserved = new Set((ipam as BuiltinIpam).all().map(canonicalIp));
      for (const a of await listProxyNeighs(sock, br.index)) {
        if (!reserved.has(a)) await delProxyNeigh(sock, br.index, a);
      }
    }
  } finally {
    closeRtnl(sock);
  }
}

export async function cmdStatus(conf: NetConf, env: CniEnv): Promise<void> {
  if (!allowsGcStatus(conf.cniVersion)) throw new IncompatibleVersionError('config version does not allow STATUS', conf.cniVersion);
  await openIpam(conf, env).status();
}
