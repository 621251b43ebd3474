// Reading prom-client metrics in tests: the value of an unlabelled counter or gauge, and a
// histogram's count and sum (prom-client only exposes them through its async get()).
import type { Counter, Gauge, Histogram } from 'prom-client';

/** The value of an unlabelled counter or gauge. */
export async function valueOf(m: Counter | Gauge): Promise<number> {
  return (await m.get()).values[0]?.value ?? 0;
}

async function histogramPart(h: Histogram, part: 'count' | 'sum'): Promise<number> {
  const m = await h.get();
  return m.values.find((x) => x.metricName === `${m.name}_${part}`)?.value ?? 0;
}

/** Observations in an unlabelled histogram. */
export const countOf = (h: Histogram) => histogramPart(h, 'count');
/** Sum of the observations in an unlabelled histogram. */
export const sumOf = (h: Histogram) => histogramPart(h, 'sum');
