// Configuration 6: podnet — podnetd (engine + TUN) in the node namespace, programmed from a
// tables file like an operator would, the client reaching the services on their VIP, or (the
// pod-to-pod variants) srv1's own pod address, divided by the plain node instead of direct.
// Started here rather than through src/sandbox's Podnetd because the benchmark varies TUN and
// engine options (batch, queues, the kernel fast path) that Podnetd.start does not pass
// through, and runs podnetd from a frozen copy of the build (bench/install.ts).
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EngineOptions, EngineStats, ServicePortSpec } from '../../src/engine/types';
import type { ManagedProcess } from '../../src/sandbox';
import type { PodnetInstall } from '../install';
import type { Topology } from '../topology';
import { Bpffs } from '../tools/bpffs';
import { plain } from './plain';
import { podTargets, podnetTables, vipTargets } from './services';
import type { Active, Configuration } from './types';

export interface PodnetVariant {
  queues?: number;
  batch?: number;
  busyPollUs?: number;
  engine?: EngineOptions;
  /** Nice value given to every podnetd thread after start (a variant, to see the scheduling share of the gap). */
  nice?: number;
  /** Extra service ports (scale runs). */
  extraTables?: (topo: Topology) => ServicePortSpec[];
  /** 'pod': the client talks to srv1's pod address (no VIP), compared with the plain node. */
  target?: 'vip' | 'pod';
  /**
   * The kernel flow cache (tc BPF on the pod veths): `engine.fastPath: true` and `engine.bpffs`
   * on a bpffs mounted for this configuration (tools/bpffs.ts).
   */
  fastPath?: boolean;
}

let install: PodnetInstall | undefined;

/** The frozen podnet build (bench/install.ts) every podnetd of this invocation runs from. */
export function setPodnetInstall(i: PodnetInstall): void { install = i; }

async function startPodnetd(topo: Topology, v: PodnetVariant, bpffs?: Bpffs): Promise<ManagedProcess> {
  const { sb } = topo;
  const tables = path.join(sb.dir, 'tables.json');
  const config = path.join(sb.dir, 'podnetd.json');
  writeFileSync(tables, JSON.stringify(podnetTables(topo, v.extraTables?.(topo) ?? [])));
  writeFileSync(config, JSON.stringify({
    tun: { name: sb.tun, queues: v.queues ?? 1, ...(v.batch ? { batch: v.batch } : {}), ...(v.busyPollUs !== undefined ? { busyPollUs: v.busyPollUs } : {}) },
    bridge: sb.bridge,
    podCIDRs: [sb.podCIDR4, sb.podCIDR6],
    serviceCIDRs: sb.serviceCIDRs,
    tables,
    engine: { ...v.engine, ...(bpffs ? { fastPath: true, bpffs: bpffs.dir } : {}) },
    logLevel: 'info',
  }, null, 2));
  if (!install) throw new Error('podnet configurations need setPodnetInstall() first');
  const argv = [process.execPath, path.join(install.root, 'bin/podnetd'), '--config', config];
  const env = { ...process.env };
  delete env.PODNET_ADDON; // the install's own build/Release addon, nothing else
  return sb.spawn(sb.nodeNs, argv, { readyLine: /"msg":"ready"/, timeoutMs: 60_000, env });
}

/**
 * Linux keeps a nice value per thread: renice every TID of podnetd (the engine threads exist by
 * "ready"). Kernel DNAT runs in softirq, ahead of every task; this variant shows how much of
 * podnet's gap on a loaded node is the engine thread waiting for a CPU.
 */
function reniceThreads(pid: number, nice: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    execFileSync('renice', ['-n', String(nice), '-p', tid], { stdio: 'ignore' });
  }
}

/** Engine counters through podnetd's SIGUSR2 "stats" log line. */
export async function podnetdStats(proc: ManagedProcess): Promise<EngineStats | null> {
  const from = proc.lines.length;
  proc.signal('SIGUSR2');
  try {
    const line = await proc.waitForLine(/"msg":"stats"/, { from, timeoutMs: 5000 });
    return (JSON.parse(line) as { stats: EngineStats }).stats;
  } catch { return null; }
}

export function podnet(id: string, label: string, v: PodnetVariant = {}): Configuration {
  return {
    id,
    label,
    ...(v.target === 'pod' ? { baseline: plain } : {}),
    async setup(topo: Topology): Promise<Active> {
      // The bpffs outlives podnetd (its pins would keep maps and links): unmounted after it stops.
      const bpffs = v.fastPath ? Bpffs.mount() : undefined;
      let proc: ManagedProcess;
      try {
        proc = await startPodnetd(topo, v, bpffs);
        if (v.nice !== undefined) reniceThreads(proc.pid, v.nice);
      } catch (e) {
        bpffs?.destroySync();
        throw e;
      }
      const ready = JSON.parse(proc.lines.find((l) => l.includes('"msg":"ready"')) ?? '{}') as { offloads?: string[]; queues?: number };
      const active: Active = {
        targets: v.target === 'pod' ? podTargets(topo) : vipTargets(),
        dataPlanePid: proc.pid,
        info: { offloads: ready.offloads, queues: ready.queues, batch: v.batch ?? 'default (64)', ...(bpffs ? { fastPath: true } : {}) },
        async teardown() {
          try {
            // Engine counters at the end of the round: drops by reason explain a bad figure.
            const stats = await podnetdStats(proc);
            if (stats) active.info = { ...active.info, drops: stats.drops, queues: stats.queues, flows: stats.flows };
            await proc.stop(5000);
          } finally {
            bpffs?.destroySync();
          }
        },
      };
      return active;
    },
  };
}
