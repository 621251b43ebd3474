// The CNI server: podnetd serves CNI calls in-process on a unix socket, and the tiny native
// `podnet` shim (shim/podnet-shim.c) forwards the runtime's call to it, as Cilium's and
// Multus's thick plugins do. Every pod then pays a C exec (~1 ms) instead of a Node start-up
// (~35-60 ms here). The same handle() runs in both places; without a server the shim execs the
// Node plugin (bin/podnet), so a node without podnetd still works.
//
// Wire format (one call per connection, the shim half-closes after stdin):
//   request:  "KEY=VALUE\0" for each CNI_* / PODNET_* variable, then "\0", then stdin to EOF
//   response: "<exit code>\n" then exactly what the plugin would print on stdout
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { CniHooks } from './hooks';
import { handle } from './main';

export const DEFAULT_SOCKET = '/run/podnet/cni.sock';

export function parseRequest(buf: Buffer): { env: NodeJS.ProcessEnv; stdin: Buffer } {
  const env: NodeJS.ProcessEnv = {};
  let at = 0;
  for (;;) {
    const nul = buf.indexOf(0, at);
    if (nul < 0) throw new Error('request has no end of environment');
    if (nul === at) { at++; break; }
    const entry = buf.toString('utf8', at, nul);
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    at = nul + 1;
  }
  return { env, stdin: buf.subarray(at) };
}

/** The server's environment minus its own CNI_* (a request must not inherit them), plus the request's. */
function requestEnv(req: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNI_')) base[k] = v;
  return { ...base, ...req };
}

function readAll(sock: net.Socket): Promise<Buffer> {
  // Not `for await`: the async iterator destroys the socket at the end of input, and we still
  // have to write the answer on this half-closed connection.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.once('end', () => resolve(Buffer.concat(chunks)));
    sock.once('error', reject);
  });
}

async function serveOne(sock: net.Socket, hooks: CniHooks): Promise<void> {
  const request = await readAll(sock);
  let reply: string;
  try {
    const { env, stdin } = parseRequest(request);
    const r = await handle(requestEnv(env), () => stdin, hooks);
    reply = `${r.exitCode}\n${r.stdout}`;
  } catch (e) {
    reply = `1\n${JSON.stringify({ cniVersion: '1.1.0', code: 6, msg: `bad request to the podnet CNI server: ${(e as Error).message}` })}\n`;
  }
  sock.end(reply);
}

/**
 * Listens on `path` (root only: 0600). A stale socket file from a crashed daemon is replaced.
 * `hooks`: what the host lends every call (podnetd: the kernel flow cache's anti-spoofing).
 */
export function createCniServer(path = DEFAULT_SOCKET, hooks: CniHooks = {}): Promise<net.Server> {
  try { if (lstatSync(path).isSocket()) unlinkSync(path); } catch { /* absent */ }
  // allowHalfOpen: the shim half-closes after stdin and still waits for the answer.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('error', () => { /* the shim went away: nothing to answer */ });
    serveOne(sock, hooks).catch(() => sock.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Standalone: `node dist/src/cni/server.js [--socket PATH]` (tests, bench; podnetd embeds createCniServer). */
if (require.main === module) {
  const i = process.argv.indexOf('--socket');
  const path = i >= 0 ? process.argv[i + 1] : DEFAULT_SOCKET;
  createCniServer(path).then((server) => {
    process.stdout.write(`podnet CNI server listening on ${path}\n`);
    const stop = () => server.close(() => { try { unlinkSync(path); } catch { /* gone */ } process.exit(0); });
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }, (e) => { process.stderr.write(`cannot listen on ${path}: ${e.message}\n`); process.exit(1); });
}
