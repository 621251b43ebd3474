// Running programs inside a network namespace. This is the one place in podnet that crosses
// into another netns: it never calls setns in this process; it starts a child with
// `ip netns exec NS ...` (a named namespace) or `nsenter --net=PATH ...` (a namespace file,
// e.g. a container runtime's /proc/PID/ns/net or /var/run/netns/cni-...), so the kernel does the
// switch for that child only.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A command run in a namespace failed (non-zero exit, signal, or spawn error). */
export class NetnsExecError extends Error {
  readonly code = 'NETNS_EXEC_FAILED';
  constructor(
    readonly ns: string | null,
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(`${ns ? `[netns ${ns}] ` : ''}${argv.join(' ')} failed (exit ${exitCode}): ${stderr.trim()}`);
    this.name = 'NetnsExecError';
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Milliseconds before the child is killed. Default 30 s. */
  timeoutMs?: number;
  /** Written to the child's stdin. */
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
}

/** The namespace file of `ns`: a name (`ip netns add`'s, under /var/run/netns) or an absolute path. */
export function netnsFile(ns: string): string {
  return ns.startsWith('/') ? ns : `/var/run/netns/${ns}`;
}

/** argv prefixed so that it runs in `ns`: a name, or an absolute path to a namespace file (null: the current namespace). */
export function inNetns(ns: string | null, argv: readonly string[]): string[] {
  if (!ns) return [...argv];
  return ns.startsWith('/') ? ['nsenter', `--net=${ns}`, ...argv] : ['ip', 'netns', 'exec', ns, ...argv];
}

/** Runs argv in `ns` to completion; rejects with NetnsExecError on failure. */
export function run(ns: string | null, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = inNetns(ns, argv);
  return new Promise((resolve, reject) => {
    const child = execFile(full[0], full.slice(1), {
      timeout: opts.timeoutMs ?? 30_000,
      maxBuffer: 64 * 1024 * 1024,
      env: opts.env ?? process.env,
      encoding: 'utf8',
    }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number'
          ? (err as unknown as { code: number }).code : null;
        reject(new NetnsExecError(ns, argv, code, stderr || err.message, stdout));
      } else {
        resolve({ stdout, stderr });
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run() but resolves with the exit code instead of rejecting on a non-zero exit. */
export function runStatus(ns: string | null, argv: readonly string[], opts: RunOptions = {}):
  Promise<RunResult & { exitCode: number }> {
  return run(ns, argv, opts).then(
    (r) => ({ ...r, exitCode: 0 }),
    (e: unknown) => {
      if (e instanceof NetnsExecError) return { stdout: e.stdout, stderr: e.stderr, exitCode: e.exitCode ?? -1 };
      throw e;
    },
  );
}

/** Starts a long-lived child in `ns`. The caller owns it (and must kill it by PID). */
export function spawnIn(ns: string | null, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const full = inNetns(ns, argv);
  return spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}
