// Errors of the podnetd process itself (usage, config file, legacy tables file, control API).
// Stable `code` strings: logs carry them, tests match on them, podnetctl maps them to exit codes.

export type DaemonErrorCode =
  | 'DAEMON_USAGE'
  | 'DAEMON_BAD_CONFIG'
  | 'DAEMON_BAD_TABLES'
  | 'DAEMON_NO_SOURCE'
  | 'DAEMON_FIRST_SYNC_TIMEOUT'
  | 'DAEMON_LISTEN'
  | 'DAEMON_BAD_REQUEST';

export class DaemonError extends Error {
  constructor(readonly code: DaemonErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonError';
  }
}

/** A config value is wrong; `key` is its dotted path (e.g. "tun.queues"). */
export class ConfigError extends DaemonError {
  constructor(readonly file: string, readonly key: string, readonly reason: string) {
    super('DAEMON_BAD_CONFIG', `${file}: ${key}: ${reason}`);
    this.name = 'ConfigError';
  }
}
