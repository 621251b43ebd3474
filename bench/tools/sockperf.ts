// sockperf ping-pong driver: TCP request/response latency with 64-byte messages. sockperf
// reports one-way latency as half the round trip; we keep its convention (published sockperf
// figures use it, so ours compare directly) and say so in the report.
import type { Sandbox } from '../../src/sandbox';

export interface SockperfResult {
  p50: number;
  p99: number;
  avg: number;
  observations: number;
}

// sockperf colours its output even into a pipe.
const ANSI = /\x1b\[[0-9;]*m/g;

export function parseSockperf(out: string): SockperfResult {
  const text = out.replace(ANSI, '');
  const pct = (p: string): number => {
    const m = new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([0-9.]+)`).exec(text);
    if (!m) throw new Error(`sockperf: no ${p} percentile in output:\n${text.slice(-1500)}`);
    return Number(m[1]);
  };
  const avg = /avg-latency=([0-9.]+)/.exec(text);
  const obs = /Total (\d+) observations/.exec(text);
  return { p50: pct('50.000'), p99: pct('99.000'), avg: avg ? Number(avg[1]) : NaN, observations: obs ? Number(obs[1]) : 0 };
}

/** Ping-pong for `seconds`; `cpu` pins the client (taskset) when given. */
export async function sockperfPingPong(sb: Sandbox, ns: string, host: string, port: number, seconds: number, cpu?: number): Promise<SockperfResult> {
  const base = ['sockperf', 'ping-pong', '--tcp', '-i', host, '-p', String(port), '-m', '64', '-t', String(seconds)];
  const argv = cpu === undefined ? base : ['taskset', '-c', String(cpu), ...base];
  const { stdout, stderr } = await sb.exec(ns, argv, { timeoutMs: (seconds + 30) * 1000 });
  return parseSockperf(stdout + stderr);
}
