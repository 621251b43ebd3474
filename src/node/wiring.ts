// Node wiring as one script of named steps, all in the CURRENT network namespace (podnetd runs
// in the node's netns). Order: bridge → sysctls → TUN up → service routes → probe routes →
// podnet table → pod rules → local rule moved. `unwireNode` undoes it for `podnetd --cleanup`.
import pino from 'pino';
import { assertSandboxedNetns } from '../netns/current';
import { nthAddress, parseNetwork } from '../net/cidr';
import type { Family } from '../net/ip';
import { requireLinkIndex, linkIndex, setLinkUp } from '../netlink/link';
import { closeRtnl, openRtnl, type Rtnl } from '../netlink/socket';
import { deleteBridge, ensureBridge } from './bridge';
import { configureBridgeSysctls, configureTunSysctls, disableEarlyDemux, enableForwarding } from './sysctls';
import {
  DEFAULT_PREFS, deleteNdpBypassRule, deletePodRule, deletePodTableDefault, deleteProbeRoute, deleteServiceRoute,
  ensureNdpBypassRule, ensurePodRule, ensurePodTableDefault, ensureProbeRoute, ensureServiceRoute, moveLocalRule,
  restoreLocalRule, type RulePrefs,
} from './routing';
import { removeSteering } from './steering';

export interface NodeWiringConfig {
  bridge: string;
  tun: string;
  /** This node's pod CIDRs (one per family); the gateway is the first address of each. */
  podCIDRs: string[];
  serviceCIDRs: string[];
  /** Routing table id of "table podnet". */
  routeTable?: number;
  prefs?: Partial<RulePrefs>;
  /** Permit wiring outside a named netns (a real node). Default false: see netns/current.ts. */
  allowHostNetns?: boolean;
  /** Uplinks carrying external traffic, steered into the TUN by tc (steering.ts); cleanup removes it. */
  uplinks?: string[];
  /** The datapath probe's addresses (src/probe/datapath.ts), routed into the TUN; none: no probe routes. */
  probeAddresses?: string[];
}

export const DEFAULT_ROUTE_TABLE = 0x706e; // "pn"

export interface WiringResult {
  bridgeIndex: number;
  tunIndex: number;
  gateways: string[];
  families: Family[];
}

type Logger = pino.Logger;

function familiesOf(cfg: NodeWiringConfig): Family[] {
  const fams = new Set<Family>();
  for (const c of [...cfg.podCIDRs, ...cfg.serviceCIDRs]) fams.add(parseNetwork(c).family);
  return [...fams].sort();
}

/** "10.244.1.1/24" for "10.244.1.0/24". */
export function gatewayAddrs(podCIDRs: string[]): string[] {
  return podCIDRs.map((c) => { const p = parseNetwork(c); return `${nthAddress(p, 1)}/${p.prefix}`; });
}

async function withRtnl<T>(fn: (sock: Rtnl) => Promise<T>): Promise<T> {
  const sock = openRtnl();
  try { return await fn(sock); } finally { closeRtnl(sock); }
}

/** Programs the node. The TUN must exist already (the engine creates it on attachTun). */
export async function wireNode(cfg: NodeWiringConfig, log?: Logger): Promise<WiringResult> {
  assertSandboxedNetns('wire a node', cfg.allowHostNetns);
  const table = cfg.routeTable ?? DEFAULT_ROUTE_TABLE;
  const prefs = { ...DEFAULT_PREFS, ...cfg.prefs };
  const families = familiesOf(cfg);
  const gateways = gatewayAddrs(cfg.podCIDRs);
  return withRtnl(async (sock) => {
    const step = (name: string, extra: object = {}) => log?.debug({ step: name, ...extra }, 'wiring');

    step('bridge', { bridge: cfg.bridge, gateways });
    const bridgeIndex = await ensureBridge(sock, cfg.bridge, gateways);

    step('sysctls');
    enableForwarding(families);
    configureBridgeSysctls(cfg.bridge, families);
    configureTunSysctls(cfg.tun, families);
    disableEarlyDemux();

    step('tun-up', { tun: cfg.tun });
    const tunIndex = await requireLinkIndex(sock, cfg.tun);
    await setLinkUp(sock, tunIndex);

    for (const c of cfg.serviceCIDRs) { step('service-route', { cidr: c }); await ensureServiceRoute(sock, tunIndex, c); }
    for (const a of cfg.probeAddresses ?? []) { step('probe-route', { address: a }); await ensureProbeRoute(sock, tunIndex, a); }

    const podFamilies = [...new Set(cfg.podCIDRs.map((c) => parseNetwork(c).family))];
    for (const f of podFamilies) { step('podnet-table', { family: f, table }); await ensurePodTableDefault(sock, tunIndex, f, table); }
    for (const c of cfg.podCIDRs) {
      step('pod-rule', { cidr: c });
      await ensureNdpBypassRule(sock, c, cfg.bridge, prefs.ndpBypass);
      await ensurePodRule(sock, c, cfg.bridge, table, prefs.pod);
    }
    for (const f of podFamilies) { step('local-rule', { family: f, pref: prefs.local }); await moveLocalRule(sock, f, prefs.local); }

    return { bridgeIndex, tunIndex, gateways, families };
  });
}

export interface UnwireOptions {
  /** Delete the bridge too (pods lose their gateway): only for a full `--cleanup`. */
  deleteBridge?: boolean;
}

/** Undoes wireNode; every step tolerates "already gone". Sysctls are left as they are. */
export async function unwireNode(cfg: NodeWiringConfig, opts: UnwireOptions = {}): Promise<void> {
  assertSandboxedNetns('unwire a node', cfg.allowHostNetns);
  const table = cfg.routeTable ?? DEFAULT_ROUTE_TABLE;
  const prefs = { ...DEFAULT_PREFS, ...cfg.prefs };
  await withRtnl(async (sock) => {
    const podFamilies = [...new Set(cfg.podCIDRs.map((c) => parseNetwork(c).family))];
    for (const f of podFamilies) await restoreLocalRule(sock, f, prefs.local);
    for (const c of cfg.podCIDRs) {
      await deletePodRule(sock, c, cfg.bridge, table, prefs.pod);
      await deleteNdpBypassRule(sock, c, cfg.bridge, prefs.ndpBypass);
    }
    for (const f of podFamilies) await deletePodTableDefault(sock, f, table);
    const tunIndex = await linkIndex(sock, cfg.tun);
    for (const c of cfg.serviceCIDRs) await deleteServiceRoute(sock, tunIndex, c);
    for (const a of cfg.probeAddresses ?? []) await deleteProbeRoute(sock, tunIndex, a);
    if (opts.deleteBridge) await deleteBridge(sock, cfg.bridge);
  });
  for (const dev of cfg.uplinks ?? []) await removeSteering(dev);
}
