// A fresh Debian root for the release package test: debootstrap (minbase: no compiler, no
// npm, no Node) from the mirror this machine's apt uses, commands run in it with chroot inside
// a network namespace of their own (`unshare --net`: whatever the package's maintainer scripts
// do to links and routes stays there), and a teardown that unmounts what was mounted in it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Ran { code: number | null; out: string; err: string; ms: number }

/** Runs argv to completion (never throws): exit code, stdout, stderr, wall time. */
export function run(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Ran {
  const t0 = Date.now();
  const r = spawnSync(argv[0], argv.slice(1), {
    env: opts.env ?? process.env, cwd: opts.cwd, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 << 20,
  });
  return { code: r.status, out: r.stdout ?? '', err: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`, ms: Date.now() - t0 };
}

/**
 * `env -i` and a plain environment, to put before a command: nothing of this process's
 * environment gets through (tap's NODE_OPTIONS would make the package's own node load tap).
 */
export function cleanEnv(env: Record<string, string> = {}): string[] {
  const vars = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', ...env };
  return ['env', '-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
}

/** The host's release codename (bookworm, ...): the root is bootstrapped with the same. */
export function hostCodename(): string {
  const m = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync('/etc/os-release', 'utf8'));
  if (!m) throw new Error('/etc/os-release has no VERSION_CODENAME');
  return m[1];
}

/**
 * The mirror apt on this machine uses for `suite` (main): from sources.list and the .list and
 * .sources (deb822) files apt reads in sources.list.d, so the test reaches what the machine can.
 */
export function aptMirror(suite: string): string {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) files.push(...readdirSync(dir).filter((f) => /\.(list|sources)$/.test(f)).sort().map((f) => path.join(dir, f)));
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'mi').exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (/^\s*Enabled:\s*no/mi.test(stanza)) continue;
        if (field('Types').includes('deb') && field('Suites').includes(suite) && field('Components').includes('main')) {
          const uri = field('URIs').find((u) => /^https?:\/\//.test(u));
          if (uri) return uri;
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)\s+(.*)$/.exec(line);
        if (m && m[2] === suite && m[3].split(/\s+/).includes('main')) return m[1];
      }
    }
  }
  throw new Error(`no apt source for ${suite} main in ${files.join(', ')}`);
}

/** Where debootstrap keeps the .debs it fetched between runs (outside the root, reused). */
export const DEBOOTSTRAP_CACHE = path.join(os.tmpdir(), 'podnet-test-debootstrap-cache');

export class DebianRoot {
  private readonly mounts: string[] = [];

  constructor(readonly dir: string) {}

  /** debootstrap --variant=minbase SUITE DIR MIRROR, plus `include` packages. */
  bootstrap(include: string[]): Ran {
    const suite = hostCodename();
    mkdirSync(DEBOOTSTRAP_CACHE, { recursive: true });
    // A throwaway root: dpkg (debootstrap's and the test's) need not fsync every file.
    mkdirSync(path.join(this.dir, 'etc/dpkg/dpkg.cfg.d'), { recursive: true });
    writeFileSync(path.join(this.dir, 'etc/dpkg/dpkg.cfg.d/podnet-test-unsafe-io'), 'force-unsafe-io\n');
    return run(['debootstrap', '--variant=minbase', `--include=${include.join(',')}`, `--cache-dir=${DEBOOTSTRAP_CACHE}`,
      suite, this.dir, aptMirror(suite)], { timeoutMs: 900_000 });
  }

  /** /proc in the root (node and `ip` read it); unmounted by teardown. */
  mountProc(): void {
    const target = path.join(this.dir, 'proc');
    const r = run(['mount', '-t', 'proc', 'proc', target]);
    if (r.code !== 0) throw new Error(`mount proc: ${r.err}`);
    this.mounts.push(target);
  }

  /** argv run inside the root, in a network namespace of its own, with a plain environment. */
  chroot(argv: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Ran {
    return run([...cleanEnv(env), 'unshare', '--net', '--', 'chroot', this.dir, ...argv], { timeoutMs });
  }

  /** A path inside the root, seen from the host. */
  path(p: string): string {
    return path.join(this.dir, p);
  }

  /** Unmounts everything mounted under the root (ours and any a maintainer script left), then removes it. */
  teardown(): void {
    const under = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .map((l) => l.split(' ')[4]).filter((m): m is string => !!m && (m === this.dir || m.startsWith(`${this.dir}/`)));
    for (const m of [...new Set([...this.mounts, ...under])].sort().reverse()) run(['umount', '-l', m]);
    const left = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => (l.split(' ')[4] ?? '').startsWith(`${this.dir}/`));
    if (!left) rmSync(this.dir, { recursive: true, force: true });
  }
}
