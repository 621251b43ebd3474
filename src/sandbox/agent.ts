// Traffic agent run inside pod namespaces (`node dist/src/sandbox/agent.js MODE ...`): real
// kernel TCP/UDP sockets on both ends of every e2e test and of the demo. Servers print one
// "listening" line when bound; clients print one JSON line with their result.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function out(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** Deterministic bytes (xorshift32 stream) so both ends and the test agree on the hash. */
export function* pattern(total: number, seed: number, chunk = 1 << 20): Generator<Buffer> {
  let x = (seed >>> 0) || 1;
  for (let sent = 0; sent < total; sent += chunk) {
    const n = Math.min(chunk, total - sent);
    const b = Buffer.allocUnsafe(n + 3);
    for (let i = 0; i < n; i += 4) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b.writeUInt32LE(x, i);
    }
    yield b.subarray(0, n);
  }
}

/** A client connection of send / send-paced, collecting the server's "HASH BYTES" reply. */
function hashedConnection(host: string, port: string): { sock: net.Socket; remote: () => { hash: string; bytes: number } } {
  const sock = net.connect({ host, port: Number(port) });
  let reply = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => { reply += d; });
  const remote = () => { const [hash, bytes] = reply.trim().split(' '); return { hash, bytes: Number(bytes) }; };
  return { sock, remote };
}

function udpType(host: string): 'udp4' | 'udp6' {
  return net.isIPv6(host) ? 'udp6' : 'udp4';
}

const modes: Record<string, () => void | Promise<void>> = {
  /** http-server PORT NAME: answers every request with NAME. */
  'http-server': () => {
    const [port, name] = args;
    const srv = http.createServer((req, res) => {
      res.setHeader('x-pod', name);
      res.end(name);
    });
    srv.keepAliveTimeout = 60_000;
    srv.listen(Number(port), '::', () => console.log('listening'));
  },

  /** udp-server PORT NAME: answers every datagram with "NAME <payload>". */
  'udp-server': () => {
    const [port, name] = args;
    const s = dgram.createSocket({ type: 'udp6', ipv6Only: false });
    s.on('message', (msg, r) => s.send(`${name} ${msg.toString()}`, r.port, r.address));
    s.bind(Number(port), '::', () => console.log('listening'));
  },

  /** sink-server PORT: hashes everything a connection sends, answers "<sha256> <bytes>". */
  'sink-server': () => {
    const [port] = args;
    net.createServer((sock) => {
      const h = createHash('sha256');
      let n = 0;
      sock.on('data', (d) => { h.update(d); n += d.length; });
      sock.on('end', () => sock.end(`${h.digest('hex')} ${n}\n`));
      sock.on('error', () => undefined);
    }).listen(Number(port), '::', () => console.log('listening'));
  },

  /** send HOST PORT BYTES SEED: streams the pattern, prints the server's hash and ours. */
  send: async () => {
    const [host, port, bytes, seed] = args;
    const total = Number(bytes);
    const h = createHash('sha256');
    const t0 = Date.now();
    const { sock, remote } = hashedConnection(host, port);
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    for (const chunk of pattern(total, Number(seed))) {
      h.update(chunk);
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    sock.end();
    await new Promise<void>((resolve, reject) => { sock.once('close', () => resolve()); sock.once('error', reject); });
    const r = remote();
    const ms = Date.now() - t0;
    out({ localHash: h.digest('hex'), remoteHash: r.hash, bytes: total, remoteBytes: r.bytes, ms, gbps: (total * 8) / ms / 1e6 });
  },

  /**
   * send-paced HOST PORT BYTES SEED RATE: like send, at RATE bytes/s, so that a transfer is
   * still running when a test restarts podnetd. Prints "connected" once the connection is up;
   * the result line adds the longest gap between two acknowledged writes (the stall).
   */
  'send-paced': async () => {
    const [host, port, bytes, seed, rate] = args;
    const total = Number(bytes);
    const h = createHash('sha256');
    const t0 = Date.now();
    const { sock, remote } = hashedConnection(host, port);
    let error: string | undefined;
    sock.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    console.log('connected');
    let sent = 0, maxGapMs = 0, last = Date.now();
    for (const chunk of pattern(total, Number(seed), 64 * 1024)) {
      h.update(chunk);
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
      sent += chunk.length;
      const now = Date.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      const due = t0 + (sent / Number(rate)) * 1000;
      if (due > now) await new Promise((r) => setTimeout(r, due - now));
      last = Math.max(last, Date.now());
    }
    sock.end();
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
    const r = remote();
    out({ localHash: h.digest('hex'), remoteHash: r.hash, bytes: total, remoteBytes: r.bytes, ms: Date.now() - t0, maxGapMs, ...(error ? { error } : {}) });
  },

  /** http-burst HOST PORT COUNT: COUNT requests, each on a new connection; tallies answers. */
  'http-burst': async () => {
    const [host, port, count, conc] = args;
    const tally: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const remotes = new Set<string>();
    let next = 0;
    const one = () => new Promise<void>((resolve) => {
      const req = http.get({ host, port: Number(port), path: '/', agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => { tally[body] = (tally[body] ?? 0) + 1; resolve(); });
      });
      req.on('socket', (s) => s.on('connect', () => remotes.add(String(s.remoteAddress))));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => { const k = e.code ?? e.message; errors[k] = (errors[k] ?? 0) + 1; resolve(); });
    });
    const worker = async () => { while (next++ < Number(count)) await one(); };
    await Promise.all(Array.from({ length: Number(conc ?? 1) }, worker));
    out({ tally, errors, remotes: [...remotes] });
  },

  /** http-hold HOST PORT CONNS MS: CONNS keep-alive connections, one request each every 20 ms. */
  'http-hold': async () => {
    const [host, port, conns, ms] = args;
    const until = Date.now() + Number(ms);
    const results = await Promise.all(Array.from({ length: Number(conns) }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const seen: string[] = [];
      let errors = 0, requests = 0, sockets = 0;
      const errorCodes: string[] = [];
      const ports = new Set<number>();
      while (Date.now() < until) {
        await new Promise<void>((resolve) => {
          const req = http.get({ host, port: Number(port), path: '/', agent, timeout: 3000 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => { body += d; });
            res.on('end', () => { requests++; if (seen[seen.length - 1] !== body) seen.push(body); resolve(); });
          });
          req.on('socket', (s) => { if (!ports.has(s.localPort ?? 0)) { s.once('connect', () => { ports.add(s.localPort ?? 0); sockets++; }); } });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (e: NodeJS.ErrnoException) => { errors++; errorCodes.push(`${Date.now()}:${e.code ?? e.message}`); resolve(); });
        });
        await new Promise((r) => setTimeout(r, 20));
      }
      agent.destroy();
      return { seen, errors, errorCodes, requests, sockets: ports.size };
    }));
    out({ conns: results });
  },

  /** tcp-connect HOST PORT [TIMEOUT_MS]: one connect attempt (default 5 s); prints the outcome and how long it took. */
  'tcp-connect': async () => {
    const [host, port, timeoutMs] = args;
    const t0 = process.hrtime.bigint();
    const result = await new Promise<string>((resolve) => {
      const s = net.connect({ host, port: Number(port) });
      s.setTimeout(Number(timeoutMs ?? 5000), () => { s.destroy(); resolve('TIMEOUT'); });
      s.once('connect', () => { s.destroy(); resolve('CONNECTED'); });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    out({ result, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  },

  /**
   * udp-ask HOST PORT COUNT: COUNT request/response exchanges from one unconnected socket; an
   * answer only counts when it comes from HOST:PORT (an unconnected socket would accept any source).
   */
  'udp-ask': async () => {
    const [host, port, count] = args;
    const s = dgram.createSocket(udpType(host));
    const tally: Record<string, number> = {};
    let wrongSource = 0, lost = 0;
    await new Promise<void>((r) => s.bind(0, r));
    for (let i = 0; i < Number(count); i++) {
      const got = await new Promise<string | null>((resolve) => {
        const t = setTimeout(() => { s.off('message', on); resolve(null); }, 1000);
        const on = (msg: Buffer, r: dgram.RemoteInfo) => {
          if (!msg.toString().endsWith(` q${i}`)) return;
          clearTimeout(t); s.off('message', on);
          if (r.address !== host || r.port !== Number(port)) { wrongSource++; resolve(null); return; }
          resolve(msg.toString().split(' ')[0]);
        };
        s.on('message', on);
        s.send(`q${i}`, Number(port), host);
      });
      if (got === null) lost++; else tally[got] = (tally[got] ?? 0) + 1;
    }
    s.close();
    out({ tally, lost, wrongSource });
  },

  /** udp-refused HOST PORT: connected UDP socket; an ICMP port unreachable surfaces as ECONNREFUSED. */
  'udp-refused': async () => {
    const [host, port] = args;
    const s = dgram.createSocket(udpType(host));
    const t0 = process.hrtime.bigint();
    let done = false;
    const result = await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve('TIMEOUT'), 3000);
      const fail = (e: NodeJS.ErrnoException) => { clearTimeout(t); resolve(e.code ?? e.message); };
      s.on('error', fail);
      s.on('message', () => { clearTimeout(t); resolve('ANSWERED'); });
      s.connect(Number(port), host, () => {
        // Several sends: the error is reported on the send/recv after the ICMP error arrives.
        let n = 0;
        const tick = () => { if (!done && n++ < 20) { s.send('ping', (e) => { if (e) fail(e); }); setTimeout(tick, 50); } };
        tick();
      });
    });
    done = true;
    s.close();
    out({ result, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  },
};

if (require.main === module) {
  const fn = modes[mode];
  if (!fn) { process.stderr.write(`agent: unknown mode ${mode}\n`); process.exit(2); }
  Promise.resolve(fn()).catch((e: unknown) => {
    out({ error: (e as NodeJS.ErrnoException).code ?? String(e) });
    process.exit(1);
  });
}
