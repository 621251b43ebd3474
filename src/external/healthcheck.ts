// healthCheckNodePort servers: one HTTP listener per externalTrafficPolicy Local
// service, answering the cloud load balancer's probes the way kube-proxy's ServiceHealthServer
// does: 200 only while this node has local ready endpoints (and the proxy is healthy), else 503,
// with the body {"service":{"namespace","name"},"localEndpoints":N,"serviceProxyHealthy":bool}.
// The steering passes these ports to the kernel (they sit inside the NodePort range).
// Fed by src/services/external.ts healthChecks() after every control-plane sync.
import http from 'node:http';
import type { HealthCheckSpec } from '../services/external';

export class HealthCheckError extends Error {
  constructor(readonly code: 'HEALTHCHECK_LISTEN', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HealthCheckError';
  }
}

export interface HealthCheckOptions {
  /** Addresses to listen on; default ['::'] (dual-stack, every node address). */
  bindAddresses?: string[];
  /** kube-proxy's serviceProxyHealthy: false makes every answer 503. Default: always true. */
  proxyHealthy?: () => boolean;
  /** Called when a port cannot be opened (in use...): the others keep running. */
  onError?: (err: HealthCheckError, spec: HealthCheckSpec) => void;
}

interface Listener { spec: HealthCheckSpec; servers: http.Server[] }

/** The set of health check listeners, reconciled against the latest HealthCheckSpec list. */
export class HealthCheckServers {
  private readonly byPort = new Map<number, Listener>();

  constructor(private readonly opts: HealthCheckOptions = {}) {}

  /** Opens new ports, closes dropped ones, updates counts in place (no reconnect for probes). */
  async update(specs: readonly HealthCheckSpec[]): Promise<void> {
    const want = new Map(specs.map((s) => [s.port, s]));
    for (const [port, l] of this.byPort) {
      if (!want.has(port)) { this.byPort.delete(port); await closeAll(l.servers); }
    }
    for (const [port, spec] of want) {
      const l = this.byPort.get(port);
      if (l) { l.spec = spec; continue; }
      const listener: Listener = { spec, servers: [] };
      try {
        for (const addr of this.opts.bindAddresses ?? ['::']) listener.servers.push(await this.listen(listener, addr, port));
        this.byPort.set(port, listener);
      } catch (e) {
        await closeAll(listener.servers);
        const err = new HealthCheckError('HEALTHCHECK_LISTEN', `health check port ${port} for ${spec.namespace}/${spec.name}: ${(e as Error).message}`, { cause: e });
        if (this.opts.onError) this.opts.onError(err, spec); else throw err;
      }
    }
  }

  /** Ports currently served. */
  ports(): number[] {
    return [...this.byPort.keys()].sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    const all = [...this.byPort.values()];
    this.byPort.clear();
    for (const l of all) await closeAll(l.servers);
  }

  private listen(l: Listener, addr: string, port: number): Promise<http.Server> {
    const srv = http.createServer((req, res) => {
      const { spec } = l; // read per request: update() swaps it in place
      const healthy = this.opts.proxyHealthy?.() ?? true;
      const body = JSON.stringify({
        service: { namespace: spec.namespace, name: spec.name },
        localEndpoints: spec.localEndpoints,
        serviceProxyHealthy: healthy,
      });
      res.writeHead(spec.localEndpoints > 0 && healthy ? 200 : 503, {
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        'X-Load-Balancing-Endpoint-Weight': String(spec.localEndpoints),
      });
      res.end(body);
    });
    srv.keepAliveTimeout = 5000;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: addr, port, ipv6Only: false }, () => { srv.off('error', reject); resolve(srv); });
    });
  }
}

function closeAll(servers: http.Server[]): Promise<void> {
  return Promise.all(servers.map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }))).then(() => undefined);
}
