// Summaries of repeated runs (bench/main.ts → report). Medians, not means: on a shared 2-vCPU
// machine one run in three can be hit by a neighbour, and the median shrugs that off.
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: number[]): Summary | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/** Spread of a summary relative to its median, e.g. 0.08 for ±8%: the run's own noise. */
export function spread(s: Summary): number {
  return s.median === 0 ? 0 : (s.max - s.min) / 2 / s.median;
}

/** Formats a number with about three significant digits. */
export function fmt(x: number): string {
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1).replace(/\.0$/, '');
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
