// Logging for a CNI binary: stdout belongs to the result, so logs go to stderr or a file, and
// synchronously (the process exits right after answering). pino is loaded only when logging is
// on (config `logLevel`/`logFile` or PODNET_CNI_LOG=level): every pod's start-up pays for it.
export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = () => {};
export const silent: Log = { debug: noop, info: noop, warn: noop, error: noop };

// One destination per file for the life of the process: inside podnetd's CNI server a
// destination per call would leak a file descriptor per pod.
const destinations = new Map<string, unknown>();

export function makeLog(level?: string, file?: string, bindings: object = {}): Log {
  const lvl = level ?? process.env.PODNET_CNI_LOG ?? (file ? 'info' : undefined);
  if (!lvl) return silent;
  const pino = require('pino') as typeof import('pino');
  const key = file ?? '<stderr>';
  let dest = destinations.get(key) as ReturnType<typeof pino.destination> | undefined;
  if (!dest) {
    dest = pino.destination({ dest: file ?? 2, sync: true, mkdir: !!file });
    destinations.set(key, dest);
  }
  return pino({ level: lvl, base: { plugin: 'podnet', pid: process.pid, ...bindings } }, dest);
}
