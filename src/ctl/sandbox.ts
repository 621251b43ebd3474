// `podnetctl sandbox up|status|exec|down`: a virtual node made of network namespaces on this
// machine, the way `kind` gives people a cluster. `up` starts a detached holder process
// (sandbox-holder.ts) that owns the namespaces, pods and podnetd, and records them in a state
// file; `down` sends the holder SIGTERM (by the PID it recorded, after checking that PID is
// still our holder) and waits for it to clean up; `exec` runs a command in a pod's namespace.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sandboxUnavailable } from '../sandbox';
import type { SandboxState } from './sandbox-holder';

export const STATE_DIR = path.join(os.tmpdir(), 'podnet-sandboxes');

class SandboxCmdError extends Error {}

function stateFile(name: string): string {
  if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new SandboxCmdError(`sandbox name must be 1-32 of [a-z0-9-]: ${name}`);
  return path.join(STATE_DIR, `${name}.json`);
}

export function readState(name: string): SandboxState | undefined {
  try { return JSON.parse(readFileSync(stateFile(name), 'utf8')) as SandboxState; } catch { return undefined; }
}

/** The PID is alive and still runs our holder (a recycled PID must never be signalled). */
function isHolder(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sandbox-holder'); } catch { return false; }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function up(name: string, pods: number, veth: boolean, json: boolean, out: (s: string) => void): Promise<number> {
  const existing = readState(name);
  if (existing && isHolder(existing.holderPid)) throw new SandboxCmdError(`sandbox ${name} is already up (${existing.id}); podnetctl sandbox down --name ${name}`);
  mkdirSync(STATE_DIR, { recursive: true });
  const file = stateFile(name);
  const logFile = path.join(STATE_DIR, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const holder = spawn(process.execPath, [path.join(__dirname, 'sandbox-holder.js'), '--name', name, '--state', file, '--pods', String(pods), ...(veth ? ['--veth'] : [])],
    { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: number | null = null;
  holder.once('exit', (code) => { exited = code ?? 1; });
  holder.unref();
  const until = Date.now() + 90_000;
  for (;;) {
    const s = readState(name);
    if (s?.ready && s.holderPid === holder.pid) {
      out(json ? JSON.stringify(s, null, 2) : describe(s));
      return 0;
    }
    if (exited !== null || Date.now() > until) {
      if (exited === null && holder.pid) process.kill(holder.pid, 'SIGTERM');
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '';
      throw new SandboxCmdError(`sandbox ${name} failed to come up${exited !== null ? ` (holder exit ${exited})` : ' (timeout)'}:\n${log}`);
    }
    await sleep(100);
  }
}

function describe(s: SandboxState): string {
  const lines = [
    `sandbox ${s.name} (${s.id}) is up: node namespace ${s.nodeNs}, podnetd pid ${s.podnetdPid}, pods by ${s.cni ? 'the podnet CNI plugin' : 'hand (veth)'}`,
    ...s.pods.map((p) => `  pod ${p.name.padEnd(7)} ${p.ip4.padEnd(14)} ${p.ip6}  (netns ${p.ns})`),
    `  Service default/web: ${s.vips.map((v) => (v.includes(':') ? `[${v}]:80` : `${v}:80`)).join(', ')} → the web pods (manifests in ${s.manifests})`,
    '',
    'try:',
    `  podnetctl --socket ${s.socket} services`,
    `  podnetctl sandbox exec --name ${s.name} client -- curl -s http://${s.vips[0]}/`,
    `  podnetctl --socket ${s.socket} trace --from ${s.pods[0].ip4} --to ${s.vips[0]}:80 --proto tcp`,
    `  podnetctl sandbox down --name ${s.name}`,
  ];
  return lines.join('\n');
}

async function down(name: string, out: (s: string) => void): Promise<number> {
  const s = readState(name);
  if (!s) { out(`sandbox ${name} is not up`); return 0; }
  if (!isHolder(s.holderPid)) {
    // The holder died without cleaning up: its namespaces are stale now and the sweep takes them.
    const { sweepStale } = await import('../sandbox');
    const swept = sweepStale();
    rmSync(stateFile(name), { force: true });
    rmSync(path.join(STATE_DIR, `${name}.log`), { force: true });
    out(`sandbox ${name}: holder was gone; swept ${swept.length} stale namespaces`);
    return 0;
  }
  process.kill(s.holderPid, 'SIGTERM');
  const until = Date.now() + 20_000;
  while (isHolder(s.holderPid)) {
    if (Date.now() > until) throw new SandboxCmdError(`sandbox ${name}: holder ${s.holderPid} did not exit`);
    await sleep(100);
  }
  rmSync(path.join(STATE_DIR, `${name}.log`), { force: true });
  out(`sandbox ${name} (${s.id}) is down`);
  return 0;
}

function exec(name: string, target: string, cmd: string[]): number {
  const s = readState(name);
  if (!s || !isHolder(s.holderPid)) throw new SandboxCmdError(`sandbox ${name} is not up (podnetctl sandbox up --name ${name})`);
  const ns = target === 'node' ? s.nodeNs : s.pods.find((p) => p.name === target)?.ns;
  if (!ns) throw new SandboxCmdError(`no pod ${target} in sandbox ${name} (pods: node, ${s.pods.map((p) => p.name).join(', ')})`);
  if (cmd.length === 0) throw new SandboxCmdError('exec needs a command after --');
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit' });
  return r.status ?? 1;
}

/** argv without the word "sandbox". */
export async function sandboxCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const dd = argv.indexOf('--');
  const head = dd < 0 ? argv : argv.slice(0, dd);
  const cmd = dd < 0 ? [] : argv.slice(dd + 1);
  const opt = (k: string) => { const i = head.indexOf(`--${k}`); return i >= 0 ? head[i + 1] : undefined; };
  const json = head.includes('--json');
  const words = head.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--name', '--pods', '--socket'].includes(head[i - 1])));
  const [sub, target] = words;
  const name = opt('name') ?? 'default';
  try {
    const why = await sandboxUnavailable();
    if (why && sub !== 'status') throw new SandboxCmdError(`sandbox ${sub ?? ''}: ${why}`);
    switch (sub) {
      case 'up': return await up(name, Number(opt('pods') ?? 3), head.includes('--veth'), json, out);
      case 'down': return await down(name, out);
      case 'status': {
        const s = readState(name);
        const alive = s ? isHolder(s.holderPid) : false;
        if (json) out(JSON.stringify({ up: alive, ...(s ?? {}) }, null, 2));
        else out(s && alive ? describe(s) : `sandbox ${name} is not up`);
        return alive ? 0 : 1;
      }
      case 'exec': return exec(name, target ?? '', cmd);
      default: throw new SandboxCmdError('usage: podnetctl sandbox up|status|down [--name NAME] [--pods N] | exec [--name NAME] POD -- CMD...');
    }
  } catch (e) {
    if (e instanceof SandboxCmdError) { process.stderr.write(`podnetctl: ${e.message}\n`); return sub ? 1 : 2; }
    throw e;
  }
}
