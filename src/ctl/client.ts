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

type Query = Record<string, string | number | undefined>;

function withQuery(pathname: string, query: Query): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
  return qs.size ? `${pathname}?${qs}` : pathname;
}

function unreachable(socketPath: string, e: NodeJS.ErrnoException): CtlError {
  const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is podnetd running? --socket PATH)'
    : e.code === 'EACCES' ? ' (the socket is root only)' : '';
  return new CtlError('CTL_UNREACHABLE', `cannot reach podnetd at ${socketPath}: ${e.code ?? e.message}${hint}`, { cause: e });
}

/** A streaming answer (GET /v1/monitor): `done` settles when podnetd ends it or close() is called. */
export interface Stream { done: Promise<void>; close(): void }

export class ControlClient {
  constructor(readonly socketPath = DEFAULT_SOCKET, readonly timeoutMs = 5000) {}

  get<T>(pathname: string, query: Query = {}): Promise<T> {
    const p = withQuery(pathname, query);
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
      req.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof CtlError ? e : unreachable(this.socketPath, e)));
    });
  }

  /** GET an NDJSON stream: each line parsed and handed to `onLine`, with no idle timeout. */
  stream<T>(pathname: string, query: Query, onLine: (v: T) => void): Stream {
    let closing = false;
    let req: http.ClientRequest | undefined;
    const done = new Promise<void>((resolve, reject) => {
      req = http.get({ socketPath: this.socketPath, path: withQuery(pathname, query), headers: { host: 'podnetd' } }, (res) => {
        let buf = '';
        const ok = (res.statusCode ?? 500) < 300;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          if (!ok) return;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            try { onLine(JSON.parse(line) as T); } catch (e) { reject(e); return; }
          }
        });
        res.on('end', () => {
          if (ok) { resolve(); return; }
          let e = { code: 'CTL_BAD_REPLY', message: `podnetd answered ${res.statusCode}: ${buf.slice(0, 200)}` };
          try { e = (JSON.parse(buf) as ErrorReply).error ?? e; } catch { /* not JSON */ }
          reject(new CtlError(e.code, e.message));
        });
        res.on('close', () => resolve());
      });
      req.on('error', (e: NodeJS.ErrnoException) => (closing ? resolve() : reject(unreachable(this.socketPath, e))));
    });
    return { done, close: () => { closing = true; req?.destroy(); } };
  }

  status(): Promise<StatusReply> { return this.get('/v1/status'); }
  services(): Promise<ServicesReply> { return this.get('/v1/services'); }
  flows(f: FlowFilter = {}): Promise<FlowsReply> { return this.get('/v1/flows', { ...f }); }
  trace(t: TraceArgs): Promise<TraceReply> { return this.get('/v1/trace', { ...t }); }
  /** `pod`: a pod's name, namespace/name or IP; absent: every pod on the node. */
  policies(pod?: string): Promise<PoliciesReply> { return this.get('/v1/policies', { pod }); }
  cluster(): Promise<ClusterReply> { return this.get('/v1/cluster'); }
}
