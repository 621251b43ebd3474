// Errors of the podnetd process itself (config, tables file). Stable `code` strings.

export type DaemonErrorCode = 'DAEMON_USAGE' | 'DAEMON_BAD_CONFIG' | 'DAEMON_BAD_TABLES';

export class DaemonError extends Error {
  constructor(readonly code: DaemonErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonError';
  }
}
