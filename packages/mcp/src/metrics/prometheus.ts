/**
 * The Prometheus text exposition format, version 0.0.4: what `/metrics` answers and every Prometheus
 * server (and most agents) scrape. Only what the exporter needs: counters and gauges, no timestamps.
 */

/** The `Content-Type` of a 0.0.4 exposition. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A metric family: one HELP and one TYPE line, then its samples. */
export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`. */
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: readonly MetricSample[];
}

/** One sample of a family: its labels (names `[a-zA-Z_][a-zA-Z0-9_]*`) and value. */
export interface MetricSample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The exposition of `families`, in order, ending with a newline. A family without samples is left out; so
 * is one whose name is malformed or repeats an earlier family's, because Prometheus rejects a whole scrape
 * over one such family and every other metric would be lost with it.
 */
export function renderExposition(families: Iterable<MetricFamily>): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const { name, type, help, samples } of families) {
    if (samples.length === 0 || !METRIC_NAME.test(name) || seen.has(name)) continue;
    seen.add(name);
    lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const { labels, value } of samples) {
      lines.push(`${name}${renderLabels(labels)} ${formatValue(value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** `{a="x",b="y"}`, or nothing without labels. Malformed label names are dropped. */
function renderLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels)
    .filter(([name]) => LABEL_NAME.test(name))
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** A label value as the format writes it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text as the format writes it: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: a Go-style float, with `NaN`, `+Inf` and `-Inf` spelled as the format wants. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** `notFound` → `not_found`, `HTTP2Errors` → `http2_errors`: a camelCase key as part of a metric name. */
export function snakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
}
