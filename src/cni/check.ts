// CHECK: the attachment still matches prevResult — bridge and host veth present and enslaved,
// its anti-spoofing in place (for prevResult's addresses: the kernel flow cache's entry or the filters),
// the container interface with its MAC, addresses and routes, and the IPAM reservation.
import type { NetConf } from './config';
import type { CniEnv } from './env';
import { CheckError, ConfigError, IncompatibleVersionError } from './errors';
import type { CniHooks } from './hooks';
import { tryParseCidr } from '../net/cidr';
import { canonicalIp } from '../net/ip';
import { openIpam } from './ipam/index';
import { getLink } from '../netlink/link';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { hostVethName } from './host-link';
import { silent, type Log } from './log';
import { inspectContainer } from './netns';
import { allowsCheck } from './version';

const sameCidr = (a: string, b: string) => {
  const x = tryParseCidr(a, 'keep'); const y = tryParseCidr(b, 'keep');
  return !!x && !!y && x.family === y.family && x.prefix === y.prefix && canonicalIp(a.split('/')[0]) === canonicalIp(b.split('/')[0]);
};

export async function cmdCheck(conf: NetConf, env: CniEnv, hooks: CniHooks = {}, log: Log = silent): Promise<void> {
  if (!allowsCheck(conf.cniVersion)) throw new IncompatibleVersionError('config version does not allow CHECK', conf.cniVersion);
  const prev = conf.prevResult;
  if (!prev) throw new ConfigError('prevResult', undefined, 'required for CHECK');
  const ifaces = prev.interfaces ?? [];
  const idx = ifaces.findIndex((i) => i.name === env.ifname && i.sandbox === env.netns);
  if (idx < 0) throw new CheckError(`prevResult has no interface ${env.ifname} in ${env.netns}`);
  const want = ifaces[idx];
  const ips = (prev.ips ?? []).filter((i) => i.interface === idx);

  const sock = openRtnl();
  const hostName = hostVethName(env.containerId, env.ifname);
  let hostIndex: number;
  try {
    const br = await getLink(sock, conf.bridge);
    if (!br) throw new CheckError(`bridge ${conf.bridge} is missing`);
    const host = await getLink(sock, hostName);
    if (!host) throw new CheckError(`host veth ${hostName} is missing`);
    if (host.master !== br.index) throw new CheckError(`host veth ${hostName} is not a port of ${conf.bridge}`);
    hostIndex = host.index;
  } finally {
    closeRtnl(sock);
  }

  const st = await inspectContainer(env.netns, env.ifname);
  if (!st) throw new CheckError(`interface ${env.ifname} is missing in ${env.netns}`);
  if (want.mac && st.mac?.toLowerCase() !== want.mac.toLowerCase()) throw new CheckError(`interface ${env.ifname} has MAC ${st.mac}, expected ${want.mac}`);
  if (!st.up) throw new CheckError(`interface ${env.ifname} is down`);
  if (conf.antiSpoofing) {
    const { checkAntispoof } = require('./antispoof') as typeof import('./antispoof');
    await checkAntispoof({ name: hostName, index: hostIndex }, ips.map((i) => i.address), want.mac ?? st.mac, hooks.kernelAntispoof?.(), log);
  }
  for (const ip of ips) {
    if (!st.addresses.some((a) => sameCidr(a, ip.address))) throw new CheckError(`interface ${env.ifname} lacks address ${ip.address}`);
  }
  for (const r of prev.routes ?? []) {
    const dst = tryParseCidr(r.dst, 'keep');
    if (!dst || !ips.some((i) => tryParseCidr(i.address, 'keep')?.family === dst.family)) continue;
    const ok = st.routes.some((x) => sameCidr(x.dst, r.dst) && (!r.gw || (x.gw !== undefined && canonicalIp(x.gw) === canonicalIp(r.gw))));
    if (!ok) throw new CheckError(`route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing in ${env.netns}`);
  }
  await openIpam(conf, env).check(ips.map((i) => i.address));
}
