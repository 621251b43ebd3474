// The figures the benchmark reports, with their units and which direction is better. Tool
// drivers (bench/tools/*) produce values keyed by these ids; report.ts and chart.ts read them.
export type MetricId =
  | 'tcp1' | 'tcp4' | 'cpuPerGbps' | 'nodeCpuPerGbps'
  | 'rrP50Pinned' | 'rrP99Pinned' | 'rrP50' | 'rrP99'
  | 'conn1' | 'conn4' | 'udpPps';

export interface Metric {
  id: MetricId;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Scale from the tool's unit to the displayed one. */
  display?: (v: number) => number;
}

export const METRICS: Metric[] = [
  { id: 'tcp1', label: 'TCP 1 stream', unit: 'Gbit/s', better: 'higher' },
  { id: 'tcp4', label: 'TCP 4 streams', unit: 'Gbit/s', better: 'higher' },
  { id: 'rrP50Pinned', label: 'RR p50 pinned', unit: 'µs', better: 'lower' },
  { id: 'rrP99Pinned', label: 'RR p99 pinned', unit: 'µs', better: 'lower' },
  { id: 'rrP50', label: 'RR p50 unpinned', unit: 'µs', better: 'lower' },
  { id: 'rrP99', label: 'RR p99 unpinned', unit: 'µs', better: 'lower' },
  { id: 'conn1', label: 'conn/s 1 client', unit: 'conn/s', better: 'higher' },
  { id: 'conn4', label: 'conn/s 4 clients', unit: 'conn/s', better: 'higher' },
  { id: 'udpPps', label: 'UDP 64 B rate', unit: 'kpps', better: 'higher' },
  { id: 'cpuPerGbps', label: 'data-plane CPU per Gbit/s (1 stream)', unit: 'cores per Gbit/s', better: 'lower' },
  { id: 'nodeCpuPerGbps', label: 'node CPU per Gbit/s (1 stream, all cores)', unit: 'cores per Gbit/s', better: 'lower' },
];

export function metric(id: MetricId): Metric {
  const m = METRICS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown metric ${id}`);
  return m;
}
