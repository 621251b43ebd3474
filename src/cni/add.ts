// ADD: the pod's attachment as a script of named steps (cf. the reference bridge's cmdAdd):
//   open-netns → ensure-bridge → setup-veth → isolate-port → ipam → record-addresses → bridge-gateway
//   → anti-spoofing → configure-netns → proxy-ndp → result
// Each step that creates something private to this pod registers its undo; shared things
// (the bridge, its gateway addresses, sysctls) are never undone: other pods use them.
import { closeSync, openSync } from 'node:fs';
import type { NetConf } from './config';
import type { CniEnv } from './env';
import { EnvironmentError } from './errors';
import type { CniHooks } from './hooks';
import { tryParseCidr } from '../net/cidr';
import { parseIp } from '../net/ip';
import { openIpam, type IpamResult } from './ipam/index';
import { randomMac } from '../net/mac';
import { ensureAddress } from '../netlink/addr';
import { createVeth, deleteLink, isolatePort, setLinkAlias } from '../netlink/link';
import { addProxyNeigh, delProxyNeigh } from '../netlink/neigh';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { ensureBridge, hostVethName, podAlias } from './host-link';
import type { Log } from './log';
import { configureContainer } from './netns';
import type { Interface, Result } from './result';
import { Steps } from './steps';
import { bridgeSysctls, enableForwarding, isolationSysctls } from './sysctls';

export function openNetns(path: string): number {
  try { return openSync(path, 'r'); } catch (e) {
    throw new EnvironmentError(`CNI_NETNS ${path} cannot be opened: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
}

/** The routes to install: each IPAM route via its own gw or the gateway of its family. */
export function podRoutes(alloc: IpamResult): { dst: string; gw?: string }[] {
  const gwOf = (fam: number) => alloc.ips.find((i) => i.family === fam && i.gateway)?.gateway;
  const out = [];
  for (const r of alloc.routes) {
    const dst = tryParseCidr(r.dst, 'keep');
    if (!dst || !alloc.ips.some((i) => i.family === dst.family)) continue; // ::/0 on a v4-only pod
    out.push({ dst: r.dst, gw: r.gw ?? gwOf(dst.family) });
  }
  return out;
}

/** MAC=… in CNI_ARGS (the reference plugins' convention), validated like runtimeConfig.mac. */
function argsMac(env: CniEnv): string | undefined {
  const m = env.args.get('MAC');
  if (m === undefined) return undefined;
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(m)) throw new EnvironmentError('CNI_ARGS MAC is not a MAC address', m);
  return m;
}

export async function cmdAdd(conf: NetConf, env: CniEnv, log: Log, hooks: CniHooks = {}): Promise<Result> {
  const steps = new Steps(log);
  const sock = openRtnl();
  let fd: number | undefined;
  try {
    fd = await steps.run('open-netns', () => openNetns(env.netns));
    const { link: bridge } = await steps.run('ensure-bridge', () => ensureBridge(sock, conf.bridge, conf.mtu, () => bridgeSysctls(conf.bridge)));
    const hostName = hostVethName(env.containerId, env.ifname);
    const peerMac = conf.mac ?? argsMac(env) ?? randomMac();
    const host = await steps.run('setup-veth',
      () => createVeth(sock, { hostName, peerName: env.ifname, netnsFd: fd!, mtu: conf.mtu, peerMac, bridgeIndex: bridge.index }),
      () => deleteLink(sock, hostName));
    if (conf.isolatePods) await steps.run('isolate-port', () => isolatePort(sock, host.index));

    const ipam = openIpam(conf, env);
    const alloc = await steps.run('ipam', () => ipam.add(), () => ipam.del());
    // The addresses, the pod's MAC and an antiSpoofing opt-out on the host veth (its alias): GC,
    // DEL and podnetd's kernel flow cache read them back, whatever the IPAM.
    await steps.run('record-addresses', () => setLinkAlias(sock, host.index, podAlias(alloc.ips.map((i) => i.address), peerMac, { antiSpoofing: conf.antiSpoofing })));
    const v4 = alloc.ips.some((i) => i.family === 4);
    const v6 = alloc.ips.some((i) => i.family === 6);

    await steps.run('bridge-gateway', async () => {
      for (const ip of alloc.ips) {
        if (!ip.gateway) continue;
        await ensureAddress(sock, bridge.index, `${ip.gateway}/${ip.address.split('/')[1]}`);
      }
      enableForwarding(v4, v6);
      if (conf.isolatePods) isolationSysctls(conf.bridge, v4, v6);
    });

    // On the host veth before configure-netns brings the pod's interface up: no window in which
    // it can lie. The kernel flow cache's entry + program when podnetd lends them (hooks.ts),
    // else u32 filters over our netlink socket (netlink/tc.ts, no exec: 2-5 ms on a loaded node).
    if (conf.antiSpoofing) {
      const { installAntispoof, removeAntispoof } = require('./antispoof') as typeof import('./antispoof');
      const kernel = bridge.mac ? hooks.kernelAntispoof?.() : undefined;
      const pod = { ifindex: host.index, name: hostName, mac: peerMac.toLowerCase(), gatewayMac: bridge.mac ?? '', addresses: alloc.ips.map((i) => i.address.split('/')[0]), antiSpoofing: true };
      await steps.run('anti-spoofing', () => installAntispoof(sock, pod, kernel, log), (form) => removeAntispoof(sock, host, form, kernel));
    }

    await steps.run('configure-netns', () => configureContainer(env.netns, {
      ifname: env.ifname, addresses: alloc.ips.map((i) => i.address), routes: podRoutes(alloc),
    }));

    if (conf.isolatePods && v6) {
      const v6addrs = alloc.ips.filter((i) => i.family === 6).map((i) => i.address.split('/')[0]);
      await steps.run('proxy-ndp', async () => { for (const a of v6addrs) await addProxyNeigh(sock, bridge.index, a); },
        async () => { for (const a of v6addrs) await delProxyNeigh(sock, bridge.index, a); });
    }

    return buildResult(conf, env, alloc, [
      { name: conf.bridge, mac: bridge.mac },
      { name: hostName, mac: host.mac },
      { name: env.ifname, mac: peerMac, mtu: conf.mtu, sandbox: env.netns },
    ]);
  } catch (e) {
    await steps.rollback();
    throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
    closeRtnl(sock);
  }
}

/** Our interfaces and addresses appended to a chained prevResult (indices shifted). */
export function buildResult(conf: NetConf, env: CniEnv, alloc: IpamResult, ifaces: Interface[]): Result {
  const prev = conf.prevResult;
  const base = prev?.interfaces?.length ?? 0;
  const sandboxIndex = base + ifaces.findIndex((i) => i.sandbox !== undefined);
  return {
    cniVersion: conf.cniVersion,
    interfaces: [...(prev?.interfaces ?? []), ...ifaces],
    ips: [...(prev?.ips ?? []), ...alloc.ips.map((i) => ({
      address: i.address, ...(i.gateway && parseIp(i.gateway) ? { gateway: i.gateway } : {}), interface: sandboxIndex,
    }))],
    // Only routes of a family the pod has (a v4-only range set with a "::/0" route in ipam).
    routes: [...(prev?.routes ?? []), ...alloc.routes.filter((r) => alloc.ips.some((i) => i.family === tryParseCidr(r.dst, 'keep')?.family))],
    dns: alloc.dns && Object.keys(alloc.dns).length ? alloc.dns : (conf.dns ?? prev?.dns ?? {}),
  };
}
