// podnetd (minimal): owns the engine and its TUN, wires the node it runs in, and programs the
// service table from a JSON file. Signals: HUP re-reads the tables, USR2 logs engine stats,
// TERM/INT detach and exit 0. `--cleanup` undoes the node wiring and exits.
// The daemon issue grows this into the full daemon (sources, sync, health, metrics).
import pino from 'pino';
import { Engine } from '../engine';
import { assertSandboxedNetns } from '../netns/current';
import { unwireNode, wireNode, type NodeWiringConfig } from '../node/wiring';
import { loadConfig, loadTables, type DaemonConfig } from './config';
import { DaemonError } from './errors';

interface Args { config: string; cleanup: boolean; statsIntervalMs: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { config: '', cleanup: false, statsIntervalMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--config') a.config = argv[++i] ?? '';
    else if (v.startsWith('--config=')) a.config = v.slice(9);
    else if (v === '--cleanup') a.cleanup = true;
    else if (v === '--stats-interval') a.statsIntervalMs = Number(argv[++i]);
    else throw new DaemonError('DAEMON_USAGE', `unknown argument ${v}`);
  }
  if (!a.config) throw new DaemonError('DAEMON_USAGE', 'usage: podnetd --config FILE.json [--cleanup] [--stats-interval MS]');
  return a;
}

function wiringConfig(cfg: DaemonConfig): NodeWiringConfig {
  return { bridge: cfg.bridge, tun: cfg.tun.name, podCIDRs: cfg.podCIDRs, serviceCIDRs: cfg.serviceCIDRs, routeTable: cfg.routeTable, allowHostNetns: cfg.allowHostNetns };
}

async function cleanup(cfg: DaemonConfig, log: pino.Logger): Promise<void> {
  await unwireNode(wiringConfig(cfg), { deleteBridge: true });
  log.info({ bridge: cfg.bridge, tun: cfg.tun.name }, 'cleaned up');
}

async function serve(args: Args, cfg: DaemonConfig, log: pino.Logger): Promise<void> {
  const engine = new Engine(cfg.engine);
  const tun = engine.attachTun({ name: cfg.tun.name, queues: cfg.tun.queues, batch: cfg.tun.batch });
  log.info({ tun }, 'tun attached');
  const wiring = await wireNode(wiringConfig(cfg), log);
  log.info({ wiring }, 'node wired');

  const applyTables = (): void => {
    const specs = loadTables(cfg.tables);
    const r = engine.replace(specs);
    log.info({ version: r.version, servicePorts: r.servicePorts, flowsPurged: r.flowsPurged }, 'tables applied');
  };
  applyTables();

  const logStats = (): void => log.info({ stats: engine.stats() }, 'stats');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    engine.detachTun();
    engine.close();
    process.exit(0);
  };
  process.on('SIGHUP', () => {
    try { applyTables(); } catch (e) {
      // Keep serving the previous table version: a bad file must not take the node down.
      log.error({ err: e }, 'tables reload failed');
    }
  });
  process.on('SIGUSR2', logStats);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (args.statsIntervalMs > 0) setInterval(logStats, args.statsIntervalMs);
  // Keep the event loop alive: the engine threads are native and hold no libuv handle.
  setInterval(() => undefined, 1 << 30);
  log.info({ pid: process.pid, tun: tun.name, offloads: tun.offloads, queues: tun.queues }, 'ready');
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const log = pino({ base: { name: 'podnetd' } }, pino.destination({ dest: 1, sync: true }));
  try {
    const args = parseArgs(argv);
    const cfg = loadConfig(args.config);
    log.level = cfg.logLevel ?? 'info';
    // Before the engine creates its TUN: nothing may land in the host's namespace by accident.
    assertSandboxedNetns('run podnetd', cfg.allowHostNetns);
    if (args.cleanup) { await cleanup(cfg, log); return; }
    await serve(args, cfg, log);
  } catch (e) {
    log.fatal({ err: e, code: (e as { code?: string }).code }, 'podnetd failed');
    process.exit(1);
  }
}
