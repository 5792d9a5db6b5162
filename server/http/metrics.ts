/** A small Prometheus text-format registry (counters, gauges and one histogram family). */
type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => Array<[Labels, number]> }>();
  private readonly histograms = new Map<string, { help: string; series: Map<string, { buckets: number[]; sum: number; count: number }> }>();

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const k = key(labels);
    c.values.set(k, (c.values.get(k) ?? 0) + by);
  }

  gauge(name: string, help: string, read: () => Array<[Labels, number]>): void {
    this.gauges.set(name, { help, read });
  }

  observe(name: string, help: string, labels: Labels, seconds: number): void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = { help, series: new Map() }));
    const k = key(labels);
    let s = h.series.get(k);
    if (!s) h.series.set(k, (s = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) s.buckets[i]++;
    s.sum += seconds;
    s.count++;
  }

  render(): string {
    const out: string[] = [];
    const series = (name: string, k: string, v: number) => out.push(`${name}${k ? `{${k}}` : ''} ${v}`);
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) series(name, k, v);
    }
    for (const [name, g] of this.gauges) {
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`);
      for (const [labels, v] of g.read()) series(name, key(labels), v);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const [k, s] of h.series) {
        const sep = k ? `${k},` : '';
        BUCKETS.forEach((b, i) => out.push(`${name}_bucket{${sep}le="${b}"} ${s.buckets[i]}`));
        out.push(`${name}_bucket{${sep}le="+Inf"} ${s.count}`);
        series(`${name}_sum`, k, s.sum);
        series(`${name}_count`, k, s.count);
      }
    }
    return out.join('\n') + '\n';
  }
}
