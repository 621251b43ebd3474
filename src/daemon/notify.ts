// systemd's notify protocol for Type=notify: READY=1 once the first sync is programmed,
// WATCHDOG=1 at half of $WATCHDOG_USEC while syncs keep up (a wedged control plane stops the
// pings and systemd restarts us), RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on shutdown.
// The datagram itself is sent by the native core (Node has no unix datagram sockets).
import type { Logger } from 'pino';
import { sdNotify } from '../engine';

export class Notifier {
  private timer: NodeJS.Timeout | undefined;
  readonly enabled = Boolean(process.env.NOTIFY_SOCKET);

  constructor(private readonly log: Logger) {}

  send(msg: string): void {
    if (!this.enabled) return;
    try { sdNotify(msg); } catch (err) {
      // Never fatal: systemd may be restarting; the watchdog will tell if it matters.
      this.log.warn({ err, msg }, 'sd_notify failed');
    }
  }

  /** Starts WATCHDOG=1 pings if systemd asked for them (WatchdogSec); `alive` gates each ping. */
  startWatchdog(alive: () => boolean): void {
    const usec = Number(process.env.WATCHDOG_USEC);
    const pid = process.env.WATCHDOG_PID ? Number(process.env.WATCHDOG_PID) : process.pid;
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0 || pid !== process.pid) return;
    const everyMs = Math.max(100, Math.floor(usec / 2000));
    this.log.info({ everyMs }, 'systemd watchdog enabled');
    this.timer = setInterval(() => {
      if (alive()) this.send('WATCHDOG=1');
      else this.log.warn('sync stalled: withholding the watchdog ping');
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
