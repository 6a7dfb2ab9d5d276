/**
 * Reading a Prometheus text exposition (format 0.0.4) in tests: samples with their labels, TYPE lines, and sums over
 * the samples that match some labels. Deliberately independent of prom-client (the code under test renders with it);
 * `promtool check metrics` (Debian `prometheus`) is the third-party check of the format itself.
 */
import { spawnSync } from 'node:child_process';

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition. */
export interface Exposition {
  text: string;
  contentType: string;
  samples: Sample[];
  /** Family name → counter, gauge, histogram … */
  types: Map<string, string>;
}

/** Parses `text`; throws on a line that is neither a comment nor a sample. */
export function parseExposition(text: string, contentType = ''): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { text, contentType, samples, types };
}

/** GET `url` and parse it. */
export async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return parseExposition(await res.text(), res.headers.get('content-type') ?? '');
}

const matches = (s: Sample, name: string, labels: Record<string, string>): boolean =>
  s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function sum(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return e.samples.filter((s) => matches(s, name, labels)).reduce((a, s) => a + s.value, 0);
}

/** The samples named `name` whose labels include `labels`. */
export function samples(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => matches(s, name, labels));
}

/** The family a sample belongs to (`x_bucket`, `x_sum`, `x_count` of a histogram `x`). */
export function familyOf(e: Exposition, sampleName: string): string | undefined {
  if (e.types.has(sampleName)) return sampleName;
  const base = sampleName.replace(/_(bucket|sum|count)$/, '');
  return e.types.get(base) === 'histogram' ? base : undefined;
}

/** A series' identity: name and sorted labels. */
export function seriesKey(s: Sample): string {
  return `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

/** `promtool check metrics` on `text`: its exit status and what it said (nothing when the exposition is clean). */
export function promtoolCheck(text: string): { status: number | null; output: string; missing: boolean } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, missing: r.error !== undefined };
}

/**
 * Asserts the histogram `name` at `labels` is well-formed: cumulative buckets in `le` order ending in `+Inf` equal
 * to `_count`.
 * @returns its count and sum.
 */
export function histogram(e: Exposition, name: string, labels: Record<string, string>): { count: number; sum: number; buckets: Array<[number, number]> } {
  const buckets = samples(e, `${name}_bucket`, labels).map((s): [number, number] => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
  buckets.sort((a, b) => a[0] - b[0]);
  return { count: sum(e, `${name}_count`, labels), sum: sum(e, `${name}_sum`, labels), buckets };
}
