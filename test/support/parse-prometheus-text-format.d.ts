/** The package ships no types: what `parsePrometheusTextFormat(text)` returns (prom2json's shape). */
declare module 'parse-prometheus-text-format' {
  namespace parsePrometheusTextFormat {
    interface Sample {
      /** The value as written ("3851.0", "+Inf", "NaN"). */
      value?: string;
      labels?: Record<string, string>;
      /** Histograms: bucket upper bound ("0.05", "+Inf") to cumulative count. */
      buckets?: Record<string, string>;
      /** Summaries: quantile to value. */
      quantiles?: Record<string, string>;
      count?: string;
      sum?: string;
    }
    interface MetricFamily {
      name: string;
      help: string;
      type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
      metrics: Sample[];
    }
  }
  function parsePrometheusTextFormat(text: string): parsePrometheusTextFormat.MetricFamily[];
  export = parsePrometheusTextFormat;
}
