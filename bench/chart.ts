// The results chart: hand-written SVG, one panel per figure, one horizontal bar per
// configuration (median) with a min–max whisker, the value and the ratio to its baseline beside it.
import { METRICS, type MetricId } from './metrics';
import { ratio, type ConfigSummary } from './report';
import { fmt } from './stats';

const PALETTE = ['#6b7280', '#2563eb', '#0891b2', '#7c3aed', '#d97706', '#16a34a', '#65a30d', '#15803d', '#a16207', '#be123c'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function svgChart(configs: ConfigSummary[], title: string): string {
  const shown = configs.filter((c) => !c.unavailable);
  const ids = METRICS.map((m) => m.id).filter((id) => shown.some((c) => c.metrics[id])) as MetricId[];
  const labelW = 250, barW = 300, valueW = 120, rowH = 18, cols = 2;
  const panelW = labelW + barW + valueW, panelH = 34 + shown.length * rowH + 10;
  const width = cols * panelW + 20, height = 40 + Math.ceil(ids.length / cols) * panelH + 30;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`);
  ids.forEach((id, k) => {
    const m = METRICS.find((x) => x.id === id)!;
    const x0 = 10 + (k % cols) * panelW, y0 = 40 + Math.floor(k / cols) * panelH;
    const max = Math.max(...shown.map((c) => c.metrics[id]?.max ?? 0)) || 1;
    const scale = (v: number) => (v / max) * (barW - 10);
    out.push(`<text x="${x0}" y="${y0 + 16}" font-weight="bold">${esc(m.label)} (${esc(m.unit)}, ${m.better} is better)</text>`);
    shown.forEach((c, i) => {
      const y = y0 + 26 + i * rowH;
      const s = c.metrics[id];
      out.push(`<text x="${x0 + labelW - 6}" y="${y + 12}" text-anchor="end">${esc(c.label)}</text>`);
      if (!s) { out.push(`<text x="${x0 + labelW + 4}" y="${y + 12}" fill="#9ca3af">n/a</text>`); return; }
      const color = PALETTE[configs.indexOf(c) % PALETTE.length];
      out.push(`<rect x="${x0 + labelW}" y="${y + 2}" width="${scale(s.median).toFixed(1)}" height="${rowH - 5}" fill="${color}"/>`);
      const wy = y + rowH / 2;
      out.push(`<line x1="${(x0 + labelW + scale(s.min)).toFixed(1)}" x2="${(x0 + labelW + scale(s.max)).toFixed(1)}" y1="${wy}" y2="${wy}" stroke="black" stroke-width="1"/>`);
      const r = id === 'cpuPerGbps' ? undefined : ratio(c, shown, id);
      const rs = r === undefined ? '' : ` · ${r.toFixed(2)}×`;
      out.push(`<text x="${x0 + labelW + barW}" y="${y + 12}">${fmt(s.median)}${rs}</text>`);
    });
  });
  out.push(`<text x="10" y="${height - 10}" fill="#6b7280">bars: median of rounds; whiskers: min–max; × = ratio to direct pod→pod${shown.some((c) => c.baseline && c.baseline !== 'direct') ? ' (pod→pod through podnet: to the plain node)' : ''} in the same invocation</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
