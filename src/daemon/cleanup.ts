// `podnetd --cleanup`: removes everything podnetd creates, in the reverse order of start-up:
// rules and routes (local rule back at pref 0), the bridge (with its gateway addresses and
// sysctls), the persistent TUN, the kernel flow cache's attachments and pins (engine.fastPath),
// the flow state file and the control and CNI sockets. Every step
// tolerates "already gone", so it is safe to repeat and safe after a crash. Sysctls that are
// global to the namespace (forwarding, rp_filter on all, early demux) are left as they are:
// other software on a node may rely on them.
import { readFileSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { linkIndex } from '../netlink/link';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { unwireNode } from '../node/wiring';
import { cleanupCluster, cleanupConfig } from '../cluster/controller';
import { Engine } from '../engine/index';
import type { DaemonConfig } from './config';
import { wiringConfig } from './daemon';

async function deleteLink(name: string): Promise<boolean> {
  const sock = openRtnl();
  try {
    const index = await linkIndex(sock, name);
    if (index === undefined) return false;
    await sock.delLink({ index });
    return true;
  } finally { closeRtnl(sock); }
}

/**
 * serviceCIDRs and uplinks podnetd defaulted (daemon.ts resolveDefaults): the ones it recorded in
 * nodeStateFile, since the wiring and the steering to undo were built from them.
 */
function recordedDefaults(cfg: DaemonConfig): DaemonConfig {
  if (!cfg.nodeStateFile || (cfg.serviceCIDRs.length && !cfg.external.uplinksAuto)) return cfg;
  let st: { serviceCIDRs?: unknown; uplinks?: unknown };
  try { st = JSON.parse(readFileSync(cfg.nodeStateFile, 'utf8')) as typeof st; } catch { return cfg; }
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    ...cfg,
    serviceCIDRs: cfg.serviceCIDRs.length ? cfg.serviceCIDRs : strings(st.serviceCIDRs),
    external: { ...cfg.external, uplinks: cfg.external.uplinksAuto ? strings(st.uplinks) : cfg.external.uplinks },
  };
}

export async function cleanup(config: DaemonConfig, log: Logger): Promise<void> {
  // podCIDRs may have come from the Node object: cleanupConfig recovers them from the state file.
  const cfg = recordedDefaults(cleanupConfig(config));
  if (cfg.cluster.mode !== 'none') await cleanupCluster(cfg, log).catch((err: unknown) => log.warn({ err }, 'cluster cleanup failed'));
  await unwireNode(wiringConfig(cfg), { deleteBridge: true });
  const tunDeleted = await deleteLink(cfg.tun.name);
  if (cfg.fastPath.enabled) {
    // A throwaway engine adopts the pins, then detaches the program everywhere and unpins.
    const e = new Engine({ flowCapacity: 1024 });
    try {
      e.enableFastPath({ bpffs: cfg.fastPath.bpffs });
      e.fastPathRemoveAll();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'kernel flow cache cleanup failed');
    } finally { e.close(); }
  }
  for (const f of [cfg.stateFile, cfg.controlSocket, cfg.cniSocket, cfg.nodeStateFile]) if (f) rmSync(f, { force: true });
  log.info({ bridge: cfg.bridge, tun: cfg.tun.name, tunDeleted, stateFile: cfg.stateFile || null, controlSocket: cfg.controlSocket || null }, 'cleaned up');
}
