// podnetd's HTTP endpoints, kube-proxy style: /healthz and /livez on healthzBindAddress,
// /metrics on metricsBindAddress (both 127.0.0.1 by default; the same address may serve both).
// /healthz: 200 once the first sync is programmed and while queued changes are synced within
// sync.healthzTimeoutMs, else 503; /livez: the same without the first-sync condition (a daemon
// still listing the API is alive), and 503 after health.probe.failures datapath probes in a row
// went unanswered (the engine threads stopped moving packets). Body: {lastUpdated, currentTime} as kube-proxy's.
import http from 'node:http';
import type { Logger } from 'pino';
import { DaemonError } from './errors';

export interface HealthSource {
  /** The first sync is programmed (READY). */
  ready(): boolean;
  /** Queued changes are being synced in time. */
  syncing(): boolean;
  /** Wall time of the last successful sync, or 0. */
  lastUpdatedMs(): number;
  /** Prometheus text of every metric (podnet_ and the process's). */
  metrics(): Promise<string>;
  /** The datapath probe is answered (src/probe/datapath.ts); absent: no probe, always true. */
  live?(): boolean;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function healthBody(src: HealthSource, ok: boolean): string {
  const last = src.lastUpdatedMs();
  return JSON.stringify({
    lastUpdated: last ? new Date(last).toISOString() : '',
    currentTime: new Date().toISOString(),
    healthy: ok,
  });
}

function routes(src: HealthSource, paths: { health: boolean; metrics: boolean }): Handler {
  return (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
    if (paths.health && (url === '/healthz' || url === '/livez')) {
      const ok = src.syncing() && (url === '/livez' ? src.live?.() ?? true : src.ready());
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
      res.end(healthBody(src, ok));
      return;
    }
    if (paths.metrics && url === '/metrics') {
      src.metrics().then((text) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      }, (e: unknown) => { res.writeHead(500).end(String((e as Error).message)); });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  };
}

function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}

function listen(server: http.Server, addr: string): Promise<void> {
  const { host, port } = splitHostPort(addr);
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new DaemonError('DAEMON_LISTEN', `listen on ${addr}: ${(e as Error).message}`, { cause: e })));
    server.listen(port, host, () => resolve());
  });
}

/** The health and metrics listeners; stop() closes them. */
export class HttpEndpoints {
  private readonly servers: http.Server[] = [];

  constructor(private readonly src: HealthSource, private readonly log: Logger) {}

  async start(healthzAddr: string, metricsAddr: string): Promise<void> {
    const plan = new Map<string, { health: boolean; metrics: boolean }>();
    if (healthzAddr) plan.set(healthzAddr, { health: true, metrics: false });
    if (metricsAddr) plan.set(metricsAddr, { health: plan.has(metricsAddr), metrics: true });
    for (const [addr, paths] of plan) {
      const s = http.createServer(routes(this.src, paths));
      s.keepAliveTimeout = 5000;
      await listen(s, addr);
      this.servers.push(s);
      this.log.info({ address: addr, ...paths }, 'http endpoint listening');
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
    this.servers.length = 0;
  }
}
