// Long-lived children of a sandbox (servers, podnetd): line-buffered output, waiting for a line,
// and kill by PID only: never by name, never a process we did not start.
import type { ChildProcess } from 'node:child_process';
import { spawnIn } from '../netns/exec';
import { SandboxError } from './errors';

export interface SpawnOptions {
  /** Resolve once a stdout line matches (servers print "listening"). */
  readyLine?: RegExp;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

type Waiter = { pred: (l: string) => boolean; from: number; resolve: (l: string) => void };

export class ManagedProcess {
  readonly lines: string[] = [];
  stderr = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private waiters: Waiter[] = [];
  private partial = '';

  constructor(readonly ns: string | null, readonly argv: string[], readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => this.onData(s));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-65536); });
    this.exited = new Promise((resolve) => child.once('close', (code, sig) => {
      this.exitCode = code; this.exitSignal = sig; resolve();
    }));
  }

  get pid(): number { return this.child.pid ?? -1; }
  get running(): boolean { return this.exitCode === null && this.exitSignal === null; }

  private onData(s: string): void {
    const parts = (this.partial + s).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (this.lines.length - 1 >= w.from && w.pred(line)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(line);
        }
      }
    }
  }

  /** Waits for a stdout line matching `pred` at index >= `from` (default: any line so far). */
  waitForLine(pred: RegExp | ((l: string) => boolean), opts: { from?: number; timeoutMs?: number } = {}): Promise<string> {
    const test = pred instanceof RegExp ? (l: string) => pred.test(l) : pred;
    const from = opts.from ?? 0;
    const seen = this.lines.slice(from).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new SandboxError('SANDBOX_TIMEOUT',
          `timed out waiting for ${pred} from ${this.argv.join(' ').slice(0, 120)}\n--- stdout tail:\n${this.lines.slice(-10).join('\n')}\n--- stderr tail:\n${this.stderr.slice(-2000)}`));
      }, opts.timeoutMs ?? 15_000);
      const w: Waiter = { pred: test, from, resolve: (l) => { clearTimeout(timer); resolve(l); } };
      this.waiters.push(w);
      void this.exited.then(() => {
        if (!this.waiters.includes(w)) return;
        this.waiters = this.waiters.filter((x) => x !== w);
        clearTimeout(timer);
        reject(new SandboxError('SANDBOX_EXITED',
          `${this.argv.join(' ').slice(0, 120)} exited (${this.exitCode ?? this.exitSignal}) before printing ${pred}\n--- stdout tail:\n${this.lines.slice(-10).join('\n')}\n--- stderr tail:\n${this.stderr.slice(-2000)}`));
      });
    });
  }

  /** Polls stderr until it matches (tools like tcpdump report readiness there). */
  async waitForStderr(re: RegExp, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!re.test(this.stderr)) {
      if (!this.running) throw new SandboxError('SANDBOX_EXITED', `${this.argv[0]} exited: ${this.stderr.slice(-500)}`);
      if (Date.now() > until) throw new SandboxError('SANDBOX_TIMEOUT', `no ${re} on stderr of ${this.argv.join(' ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running && this.pid > 0) process.kill(this.pid, sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    const t = setTimeout(() => { try { this.signal('SIGKILL'); } catch { /* gone */ } }, graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

export async function startProcess(ns: string | null, argv: string[], opts: SpawnOptions = {}): Promise<ManagedProcess> {
  const child = spawnIn(ns, argv, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new ManagedProcess(ns, argv, child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  if (opts.readyLine) {
    try {
      await p.waitForLine(opts.readyLine, { timeoutMs: opts.timeoutMs });
    } catch (e) {
      // Never ready: it must not outlive the caller (nobody else holds its PID).
      await p.stop(2000).catch(() => undefined);
      throw e;
    }
  }
  return p;
}
