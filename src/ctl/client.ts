// Client of podnetd's control API (HTTP over its unix socket). Used by podnetctl and by the
// sandbox's Podnetd handle; a unix socket path works from any network namespace.
import http from 'node:http';
import type { ClusterReply, ErrorReply, FlowsReply, PoliciesReply, ServicesReply, StatusReply, TraceReply } from './api';

export const DEFAULT_SOCKET = '/run/podnet/podnetd.sock';

/** The daemon could not be reached or answered with an error; `code` is stable. */
export class CtlError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CtlError';
  }
}

export interface FlowFilter { vip?: string; client?: string; backend?: string; protocol?: string; limit?: number }
export interface TraceArgs { from: string; to: string; port: number; protocol: 'TCP' | 'UDP'; sourcePort?: number }

export class ControlClient {
  constructor(readonly socketPath = DEFAULT_SOCKET, readonly timeoutMs = 5000) {}

  get<T>(pathname: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
    const p = qs.size ? `${pathname}?${qs}` : pathname;
    return new Promise((resolve, reject) => {
      const req = http.get({ socketPath: this.socketPath, path: p, timeout: this.timeoutMs, headers: { host: 'podnetd' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => {
          let json: unknown;
          try { json = JSON.parse(body); } catch {
            reject(new CtlError('CTL_BAD_REPLY', `podnetd answered ${res.statusCode} with non-JSON: ${body.slice(0, 200)}`));
            return;
          }
          if ((res.statusCode ?? 500) >= 300) {
            const e = (json as ErrorReply).error ?? { code: 'CTL_BAD_REPLY', message: body };
            reject(new CtlError(e.code, e.message));
            return;
          }
          resolve(json as T);
        });
      });
      req.on('timeout', () => req.destroy(new CtlError('CTL_TIMEOUT', `no answer from ${this.socketPath} within ${this.timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e instanceof CtlError) { reject(e); return; }
        const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is podnetd running? --socket PATH)'
          : e.code === 'EACCES' ? ' (the socket is root only)' : '';
        reject(new CtlError('CTL_UNREACHABLE', `cannot reach podnetd at ${this.socketPath}: ${e.code ?? e.message}${hint}`, { cause: e }));
      });
    });
  }

  status(): Promise<StatusReply> { return this.get('/v1/status'); }
  services(): Promise<ServicesReply> { return this.get('/v1/services'); }
  flows(f: FlowFilter = {}): Promise<FlowsReply> { return this.get('/v1/flows', { ...f }); }
  trace(t: TraceArgs): Promise<TraceReply> { return this.get('/v1/trace', { ...t }); }
  /** `pod`: a pod's name, namespace/name or IP; absent: every pod on the node. */
  policies(pod?: string): Promise<PoliciesReply> { return this.get('/v1/policies', { pod }); }
  cluster(): Promise<ClusterReply> { return this.get('/v1/cluster'); }
}
