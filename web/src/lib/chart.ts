import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';

export interface ChartSeries {
  label: string;
  colour: string;
  values: number[];
}

export interface ChartSpec {
  /** One label per x position (districts, days, hours, venue types). */
  labels: string[];
  series: ChartSeries[];
  kind: 'bars' | 'lines';
  /** Bars on top of each other (a total split by colour or decision). */
  stacked?: boolean;
  height?: number;
  /** Show every n-th x label when there are many. */
  labelEvery?: number;
}

const charts = new Set<uPlot>();

/**
 * Draws a categorical chart with uPlot into `el` (sized to its width) with a legend of
 * the real totals underneath. Stacked bars are drawn as cumulative series, largest first,
 * so each colour shows its own share.
 */
export function drawChart(el: HTMLElement, spec: ChartSpec): uPlot {
  el.replaceChildren();
  const n = spec.labels.length;
  const xs = spec.labels.map((_, i) => i);
  const drawn = spec.stacked ? cumulative(spec.series).reverse() : spec.series;
  const width = Math.max(240, el.clientWidth || 320);
  const every = spec.labelEvery ?? Math.max(1, Math.ceil(n / Math.floor(width / 46)));
  // Labels wider than their slot (venue types, venue names) are drawn slanted.
  const labelPx = Math.max(
    0,
    ...spec.labels.map((l) => Array.from(l).reduce((w, c) => w + (c.charCodeAt(0) > 0x2e80 ? 11 : 6.5), 0)),
  );
  const slant = labelPx > ((width - 48) / Math.ceil(n / every)) * 0.9;
  const xSize = slant ? Math.min(96, Math.ceil(labelPx * Math.sin((40 * Math.PI) / 180)) + 18) : 34;
  const opts: uPlot.Options = {
    width,
    height: spec.height ?? 200,
    legend: { show: false },
    cursor: { show: false },
    padding: [12, 8, 0, 0],
    scales: {
      x: { time: false, range: () => [-0.6, Math.max(n - 0.4, 0.6)] },
      y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
    },
    axes: [
      {
        splits: () => xs.filter((i) => i % every === 0),
        values: (_u, splits) => splits.map((i) => spec.labels[i] ?? ''),
        rotate: slant ? 40 : 0,
        gap: 4,
        size: xSize,
        stroke: '#555',
        grid: { show: false },
        ticks: { show: false },
        font: '11px system-ui, sans-serif',
      },
      {
        size: 40,
        stroke: '#555',
        grid: { stroke: '#e6e6e6', width: 1 },
        ticks: { show: false },
        font: '11px system-ui, sans-serif',
        values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')),
      },
    ],
    series: [
      {},
      ...drawn.map((s, i) => {
        if (spec.kind === 'bars')
          return {
            label: s.label,
            fill: s.colour,
            stroke: s.colour,
            width: 0,
            paths: uPlot.paths.bars!({ size: [0.7, 48], gap: 1 }),
            points: { show: false },
          };
        // Lines that coincide (yellow and red both 0 on a quiet day) would hide all but the last
        // drawn: each is drawn thinner than the one before, so the earlier ones show as a rim.
        const under = drawn.length - 1 - i;
        return {
          label: s.label,
          stroke: s.colour,
          width: 2 + 1.5 * under,
          points: { show: true, size: 5 + 3 * under, fill: s.colour },
        };
      }),
    ],
  };
  const plot = new uPlot(opts, [xs, ...drawn.map((s) => s.values)], el);
  // The canvas says nothing to a screen reader (or a test): the same numbers as text.
  el.setAttribute('role', 'img');
  el.setAttribute(
    'aria-label',
    spec.labels.map((l, i) => `${l}: ${spec.series.map((s) => `${s.label} ${s.values[i]}`).join(', ')}`).join('; '),
  );
  charts.add(plot);
  el.appendChild(
    h(
      'ul',
      { class: 'legend' },
      spec.series.map((s) =>
        h(
          'li',
          {},
          h('span', { class: 'swatch', style: `background:${s.colour}` }),
          `${s.label} ${s.values.reduce((a, b) => a + b, 0)}`,
        ),
      ),
    ),
  );
  return plot;
}

function cumulative(series: ChartSeries[]): ChartSeries[] {
  const sums = series[0]?.values.map(() => 0) ?? [];
  return series.map((s) => ({ ...s, values: s.values.map((v, i) => (sums[i] += v)) }));
}

/** Forgets charts that were removed from the page. */
export function destroyDetached(): void {
  for (const c of charts) {
    if (!c.root.isConnected) {
      c.destroy();
      charts.delete(c);
    }
  }
}
