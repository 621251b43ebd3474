// Where the data plane's time goes: `perf record` on the data-plane process (podnetd, haproxy)
// while a load runs, summarised with `perf report` into a flat top-symbols list (kernel and user
// symbols alike: for a TUN engine most of it is expected in syscalls and the TUN/veth path).
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Samples `pid` (all threads) for `seconds` while `load` runs; returns the top symbols. */
export async function perfProfile<T>(pid: number, seconds: number, file: string, load: () => Promise<T>): Promise<{ result: T; report: string }> {
  const rec = run('perf', ['record', '-F', '999', '-g', '-p', String(pid), '-o', file, '--', 'sleep', String(seconds)],
    { timeout: (seconds + 30) * 1000 });
  await new Promise((r) => setTimeout(r, 300)); // perf attaches before the load starts
  const result = await load();
  await rec;
  try {
    const top = async (sort: string, limit: string, lines: number) => {
      const { stdout } = await run('perf', ['report', '-i', file, '--stdio', '--no-children', '-g', 'none',
        '--sort', sort, '--percent-limit', limit], { maxBuffer: 32 << 20, timeout: 120_000 });
      return stdout.split('\n').filter((l) => l.trim() && !l.startsWith('#')).slice(0, lines).join('\n');
    };
    // First by binary (kernel vs engine vs libc vs node), then the hottest symbols.
    const report = `by object:\n${await top('dso', '0.5', 10)}\nby symbol:\n${await top('dso,sym', '0.7', 40)}`;
    return { result, report };
  } finally {
    rmSync(file, { force: true });
  }
}
