// What the results were measured on: machine, kernel, load, tool and podnet versions. Written
// into the results JSON so a reader can tell whether two runs are comparable.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

function cmd(argv: string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim().split('\n')[0];
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return (err.stdout || err.stderr || 'unavailable').trim().split('\n')[0];
  }
}

export function loadavg(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export interface MachineInfo {
  host: string;
  kernel: string;
  cpu: string;
  cpus: number;
  memGiB: number;
  loadavgAtStart: number[];
  versions: Record<string, string>;
}

export function machineInfo(): MachineInfo {
  return {
    host: os.hostname(),
    kernel: os.release(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    loadavgAtStart: loadavg(),
    versions: {
      node: process.version,
      iperf3: cmd(['iperf3', '--version']),
      sockperf: cmd(['sockperf', '--version']),
      haproxy: cmd(['haproxy', '-v']),
      nft: cmd(['nft', '--version']),
      iptables: cmd(['iptables', '--version']),
      cc: cmd([process.env.CC ?? 'cc', '--version']),
    },
  };
}
