// GC (1.1.0): everything this network holds that the runtime no longer lists in
// cni.dev/valid-attachments goes: IPAM reservations, host veths on the bridge (named "pn…" from
// container ID + ifname, so a crash between veth and reservation is covered) and proxy-NDP
// entries of addresses no longer attached (a stale veth's kernel anti-spoofing entry with it). Which addresses are attached: those written on the
// remaining host veths' aliases at ADD (host-link.ts podAlias; works for a delegated IPAM too), and
// with the built-in IPAM also every reservation in its store. Only entries this plugin added
// (NDA_PROTOCOL PROXY_PROTO) are removed, plus, with the built-in IPAM, unmarked ones it does
// not hold (entries of pods attached before the mark existed); anything else on the bridge is
// someone else's. STATUS: can ADD work right now?
import type { NetConf } from './config';
import type { CniEnv } from './env';
import { ConfigError, IncompatibleVersionError } from './errors';
import { canonicalIp } from '../net/ip';
import { isBuiltin, openIpam } from './ipam/index';
import type { BuiltinIpam } from './ipam/builtin';
import { bridgePorts, deleteLink, getLink } from '../netlink/link';
import { delProxyNeigh, listProxyNeighs } from '../netlink/neigh';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { dropKernelAntispoof, type CniHooks } from './hooks';
import { aliasAddresses, hostVethName } from './host-link';
import type { Log } from './log';
import { allowsGcStatus } from './version';

export async function cmdGc(conf: NetConf, env: CniEnv, log: Log, hooks: CniHooks = {}): Promise<void> {
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
    const attached = new Set<string>();
    for (const port of await bridgePorts(sock, br.index)) {
      if (/^pn[0-9a-f]{11}$/.test(port.name) && !keep.has(port.name)) {
        log.info({ veth: port.name }, 'gc: stale host veth');
        await deleteLink(sock, port.name);
        dropKernelAntispoof(hooks, port.index, port.name, log);
      } else {
        for (const a of aliasAddresses(port.alias)) attached.add(canonicalIp(a));
      }
    }
    const reserved = isBuiltin(conf.ipam) ? new Set((ipam as BuiltinIpam).all().map(canonicalIp)) : undefined;
    for (const e of await listProxyNeighs(sock, br.index)) {
      const stale = e.ours ? !attached.has(e.address) && !reserved?.has(e.address) : reserved !== undefined && !reserved.has(e.address);
      if (stale) {
        log.info({ address: e.address }, 'gc: stale proxy NDP entry');
        await delProxyNeigh(sock, br.index, e.address);
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
