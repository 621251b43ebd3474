// A private bpffs for a podnetd with the kernel fast path (engine.bpffs): mounted on a fresh
// directory of this run under the temp dir, never /sys/fs/bpf, and unmounted when the
// configuration is torn down, when its setup fails, or when the benchmark exits or is
// signalled. Mounts left by a run that died are swept before the next mount: the directory
// name carries the owner's PID. Pins (maps, links) go with the unmount.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { register, unregister, type Cleanable } from '../../src/sandbox/cleanup';

const PREFIX = 'podnet-bench-bpffs-';
const OURS = new RegExp(`^${PREFIX}(\\d+)-[A-Za-z0-9]{6}$`);

/** Mount points of bpf filesystems as /proc/self/mountinfo lists them. */
function bpfMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((l) => {
    const [pre, post] = l.split(' - ');
    if (!post?.startsWith('bpf ')) return [];
    // The mount point field escapes spaces and friends as octal: our directories have none.
    return [pre.split(' ')[4].replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))];
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

function unmount(dir: string): void {
  try { execFileSync('umount', [dir], { stdio: 'ignore' }); } catch {
    // Busy (a process still has its cwd there): detach it now, the kernel frees it after.
    try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); } catch { /* not mounted */ }
  }
}

/** Unmounts and removes the bpffs directories of benchmark runs whose process is gone. */
export function sweepStaleBpffs(): string[] {
  const swept: string[] = [];
  const tmp = os.tmpdir();
  const mounted = new Set(bpfMounts());
  for (const f of readdirSync(tmp)) {
    const m = OURS.exec(f);
    if (!m || alive(Number(m[1]))) continue;
    const dir = path.join(tmp, f);
    if (mounted.has(dir)) unmount(dir);
    try { rmdirSync(dir); swept.push(dir); } catch { /* still mounted or not empty: left alone */ }
  }
  return swept;
}

export class Bpffs implements Cleanable {
  private mounted = true;

  private constructor(readonly dir: string) {}

  /** Sweeps dead runs' mounts, then mounts a fresh bpffs for this run. */
  static mount(): Bpffs {
    sweepStaleBpffs();
    const dir = mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
    try {
      execFileSync('mount', ['-t', 'bpf', 'bpf', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      rmdirSync(dir);
      throw new Error(`mount -t bpf on ${dir}: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`);
    }
    const b = new Bpffs(dir);
    register(b);
    return b;
  }

  /** Unmounts (dropping every pin below it) and removes the directory. Safe to call twice. */
  destroySync(): void {
    if (!this.mounted) return;
    this.mounted = false;
    unmount(this.dir);
    try { rmdirSync(this.dir); } catch { /* left for the next sweep */ }
    unregister(this);
  }
}
