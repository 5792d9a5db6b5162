import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValue,
} from 'prom-client';

type Labels = Record<string, string>;

/** A metric's series as data (`getMetricsAsJSON()` without its collect function), as another process sends them. */
export type SeriesJson = Omit<MetricObjectWithValues<MetricValue<string>>, 'collect'>;

/** Request latency buckets, in seconds (the ones dashboards were built on). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Labels in name order, so a series prints the same whatever order a call site wrote them in. */
const ordered = (labels: Labels): Labels =>
  Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics (process CPU, memory, file descriptors, Node heap, event loop
 * lag, GC) describe the process, not a service in it, and collecting them starts a GC observer
 * and an event-loop-delay monitor that are never stopped. One registry per process holds them,
 * made when the first service starts (its CPU counters count from then); every service's
 * `/metrics` includes it. Tests start many services
 * in one process: one registry each would leave one monitor behind per service.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A gauge whose series, label names included, come from `read` at every scrape. */
class ReadGauge extends Gauge<string> {
  constructor(
    private readonly metricName: string,
    private readonly metricHelp: string,
    private readonly read: () => Array<[Labels, number]> | Promise<Array<[Labels, number]>>,
    registry: Registry,
  ) {
    super({ name: metricName, help: metricHelp, registers: [registry] });
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const rows = await this.read();
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: 'gauge' as unknown as MetricType,
      aggregator: 'sum',
      collect: () => undefined,
      values: rows.map(([labels, value]) => ({ labels: ordered(labels), value })),
    };
  }
}

/**
 * One service's metrics: a prom-client `Registry` of its own (tests run several services in
 * one process, so nothing per service goes into prom-client's global registry). Call sites
 * name a series where they count it (`metrics.inc('ankang_scans_total', help, labels)`); the
 * first call makes the counter or histogram, with the label names it was given. Gauges are
 * read at scrape time, never pushed.
 */
export class Metrics {
  /** This service's series; register prom-client metrics of its own here (`registers: [metrics.registry]`). */
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter<string>>();
  private readonly histograms = new Map<string, Histogram<string>>();
  /** Other processes' series to add into this service's at each scrape (a writer's HTTP workers). */
  private readonly sources: Array<() => SeriesJson[][]> = [];

  constructor() {
    processMetrics();
  }

  /** Adds `by` (default 1; 0 declares a series before anything happened) to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c)
      this.counters.set(
        name,
        (c = new Counter({ name, help, labelNames: Object.keys(labels).sort(), registers: [this.registry] })),
      );
    c.inc(ordered(labels), by);
  }

  /** A gauge read at every scrape; registering a name again replaces the earlier reader. */
  gauge(name: string, help: string, read: () => Array<[Labels, number]> | Promise<Array<[Labels, number]>>): void {
    this.registry.removeSingleMetric(name);
    new ReadGauge(name, help, read, this.registry);
  }

  /** Records one observation (seconds) in a histogram with the request-latency buckets. */
  observe(name: string, help: string, labels: Labels, seconds: number): void {
    let h = this.histograms.get(name);
    if (!h)
      this.histograms.set(
        name,
        (h = new Histogram({
          name,
          help,
          labelNames: Object.keys(labels).sort(),
          buckets: BUCKETS,
          registers: [this.registry],
        })),
      );
    h.observe(ordered(labels), seconds);
  }

  /**
   * Adds, at each scrape, the series other processes of this service sent (their
   * `registry.getMetricsAsJSON()`): a series with the same labels is summed with this one's.
   */
  addSource(read: () => SeriesJson[][]): void {
    this.sources.push(read);
  }

  /** The Prometheus text exposition of the process's metrics and this service's (with any sources' added). */
  async render(): Promise<string> {
    const others = this.sources.flatMap((read) => read());
    if (!others.length) return Registry.merge([processMetrics(), this.registry]).metrics();
    const summed = AggregatorRegistry.aggregate([
      await this.registry.getMetricsAsJSON(),
      ...(others as MetricObjectWithValues<MetricValue<string>>[][]),
    ]);
    return Registry.merge([processMetrics(), summed as Registry]).metrics();
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
