// Process CPU accounting and pinning for the data-plane process (podnetd, haproxy): utime +
// stime of every thread from /proc/PID/stat, and taskset on all of its threads. Only ever
// applied to PIDs this benchmark started.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

const HZ = 100; // USER_HZ: the unit of /proc/PID/stat times on Linux

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/** Pins every thread of `pid` to `cpus` (e.g. "0" or "0-1"). */
export function pinThreads(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

export function allCpus(): string {
  return `0-${os.cpus().length - 1}`;
}

/** Whole-machine busy fraction over an interval: the load other work puts on the run. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface ThreadSample {
  tid: number;
  comm: string;
  /** CPU seconds in user and kernel mode. */
  user: number;
  sys: number;
  /** Voluntary context switches: each one a sleep, i.e. a wake-up paid later. */
  wakeups: number;
  preempted: number;
}

/** Per-thread CPU and context switches of a process, to say which thread the time goes to. */
export function threadSamples(pid: number): ThreadSample[] {
  const out: ThreadSample[] = [];
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const num = (k: string) => Number(new RegExp(`${k}:\\s*(\\d+)`).exec(status)?.[1] ?? 0);
      out.push({ tid: Number(t), comm, user: Number(f[11]) / HZ, sys: Number(f[12]) / HZ,
        wakeups: num('voluntary_ctxt_switches'), preempted: num('nonvoluntary_ctxt_switches') });
    } catch { /* thread exited */ }
  }
  return out;
}

/** after − before per thread, keeping threads that did anything. */
export function threadDelta(before: ThreadSample[], after: ThreadSample[]): ThreadSample[] {
  const prev = new Map(before.map((s) => [s.tid, s]));
  return after.map((a) => {
    const b = prev.get(a.tid);
    return b ? { ...a, user: a.user - b.user, sys: a.sys - b.sys, wakeups: a.wakeups - b.wakeups, preempted: a.preempted - b.preempted } : a;
  }).filter((d) => d.user + d.sys > 0 || d.wakeups > 0)
    .map((d) => ({ ...d, user: Math.round(d.user * 100) / 100, sys: Math.round(d.sys * 100) / 100 }));
}
