// podnetd's entry point (bin/podnetd): parse flags and config (a bad config fails here, before
// anything is touched), refuse an unnamed network namespace unless allowHostNetns, then run the
// Daemon and map signals onto it: TERM/INT stop cleanly (exit 0), HUP reloads the config file,
// USR2 logs the engine stats. Logs are pino JSON lines on stdout (journald keeps them).
import pino from 'pino';
import { assertSandboxedNetns } from '../netns/current';
import { parseArgs, resolveConfig, USAGE, type Args } from './args';
import { cleanup } from './cleanup';
import { Daemon } from './daemon';

function serve(args: Args, daemon: Daemon, log: pino.Logger): void {
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      let next = null;
      try { next = resolveConfig(args); } catch (err) {
        // The running config stays: a typo in the file must not take the node down.
        log.error({ err, code: (err as { code?: string }).code }, 'config reload failed; keeping the running config');
      }
      await daemon.reload(next).catch((err: unknown) => log.error({ err }, 'reload failed'));
    });
  });
  process.on('SIGUSR2', () => daemon.logStats());
  const stop = (signal: string) => {
    void daemon.stop(signal).then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (args.statsIntervalMs > 0) setInterval(() => daemon.logStats(), args.statsIntervalMs);
  // The engine threads are native and hold no libuv handle: keep the loop alive ourselves.
  setInterval(() => undefined, 1 << 30);
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const log = pino({ base: { name: 'podnetd' } }, pino.destination({ dest: 1, sync: true }));
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.message === USAGE) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
    log.fatal({ code: err.code, err }, 'podnetd: bad command line');
    process.exit(2);
  }
  let daemon: Daemon | undefined;
  try {
    const cfg = resolveConfig(args);
    log.level = cfg.logLevel;
    // Before the engine creates its TUN: nothing may land in the host's namespace by accident.
    assertSandboxedNetns('run podnetd', cfg.allowHostNetns);
    if (args.cleanup) { await cleanup(cfg, log); return; }
    daemon = new Daemon(cfg, log);
    serve(args, daemon, log);
    await daemon.start();
  } catch (e) {
    const err = e as Error & { code?: string; key?: string };
    log.fatal({ err, code: err.code, ...(err.key ? { key: err.key } : {}) }, 'podnetd failed');
    await daemon?.stop('start failed').catch(() => undefined);
    process.exit(1);
  }
}
