// iperf3 driver: TCP throughput (1 or N streams) and UDP 64-byte packet rate, client in the
// client pod, server (started by topology.ts) on one backend. iperf3's control and data
// connections must reach the same server, so every configuration points this test at a
// single-endpoint service: balanced independently, the two could land on different backends
// and the test would hang.
import type { Sandbox } from '../../src/sandbox';

export interface IperfTcpResult {
  gbps: number;
  retransmits: number;
  seconds: number;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second: number; seconds: number };
    sum_sent?: { retransmits?: number };
    sum?: { packets: number; lost_packets: number; seconds: number };
  };
}

function parse(stdout: string, what: string): IperfJson {
  const j = JSON.parse(stdout) as IperfJson;
  if (j.error) throw new Error(`iperf3 ${what}: ${j.error}`);
  return j;
}

/** Throughput with `streams` parallel TCP streams; the first second (slow start) is omitted. */
export async function iperfTcp(sb: Sandbox, ns: string, host: string, port: number, streams: number, seconds: number): Promise<IperfTcpResult> {
  const argv = ['iperf3', '-c', host, '-p', String(port), '-t', String(seconds), '-O', '1', '-P', String(streams), '-J'];
  const { stdout } = await sb.exec(ns, argv, { timeoutMs: (seconds + 30) * 1000 });
  const j = parse(stdout, `-P ${streams} to ${host}`);
  const r = j.end?.sum_received;
  if (!r) throw new Error(`iperf3 to ${host}: no summary`);
  return { gbps: r.bits_per_second / 1e9, retransmits: j.end?.sum_sent?.retransmits ?? 0, seconds: r.seconds };
}

export interface IperfUdpResult {
  /** Datagrams that arrived, per second (kpps). */
  kpps: number;
  lostPercent: number;
}

/** 64-byte datagrams as fast as one sender goes (-b 0): what arrives is the path's packet rate. */
export async function iperfUdp(sb: Sandbox, ns: string, host: string, port: number, seconds: number): Promise<IperfUdpResult> {
  const argv = ['iperf3', '-c', host, '-p', String(port), '-u', '-l', '64', '-b', '0', '-t', String(seconds), '-J'];
  const { stdout } = await sb.exec(ns, argv, { timeoutMs: (seconds + 30) * 1000 });
  const s = parse(stdout, `-u to ${host}`).end?.sum;
  if (!s) throw new Error(`iperf3 -u to ${host}: no summary`);
  const got = s.packets - s.lost_packets;
  return { kpps: got / s.seconds / 1000, lostPercent: s.packets ? (100 * s.lost_packets) / s.packets : 0 };
}
