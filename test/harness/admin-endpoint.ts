/**
 * The product's --admin-listen endpoint seen from outside: its port (from the log), plain HTTP
 * GETs, a /metrics scrape parsed into samples, and the real `promtool check metrics` on it.
 */
import http from 'node:http';
import { execFileCollect } from './exec.js';
import type { ProxyHandle } from './proxy-process.js';

/** The admin port from the product's 'admin endpoint listening' log line (start it with --admin-listen 127.0.0.1:0). */
export async function adminPort(proxy: ProxyHandle, timeoutMs = 15_000): Promise<number> {
  const line = await proxy.waitForLog((l) => l.msg === 'admin endpoint listening' && typeof l.port === 'number', timeoutMs);
  return line.port as number;
}

export interface HttpAnswer {
  status: number;
  body: string;
  contentType: string;
}

/** One GET on 127.0.0.1:`port`; rejects if the connection fails or takes longer than `timeoutMs`. */
export function httpGet(port: number, path: string, timeoutMs = 10_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, contentType: String(res.headers['content-type'] ?? '') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** One sample of a scrape: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed scrape: the text and its samples. */
export class Scrape {
  readonly samples: Sample[];

  constructor(readonly text: string) {
    this.samples = parseSamples(text);
  }

  /** Samples of `name` whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The value of the one sample of `name` with `labels` (0 when there is none: a counter not yet moved). */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.find(name, labels);
    if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} samples`);
    return found[0]?.value ?? 0;
  }

  /** Whether a metric family of this name is declared (# TYPE line). */
  has(name: string): boolean {
    return this.text.split('\n').some((l) => l.startsWith(`# TYPE ${name} `));
  }

  /** The declared type of `name` (counter, gauge, histogram, ...). */
  type(name: string): string | undefined {
    const line = this.text.split('\n').find((l) => l.startsWith(`# TYPE ${name} `));
    return line?.split(' ')[3];
  }
}

/** GET /metrics, checked to be a 200 in Prometheus' text format. */
export async function scrape(port: number): Promise<Scrape> {
  const r = await httpGet(port, '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.body}`);
  if (!r.contentType.startsWith('text/plain')) throw new Error(`GET /metrics: content-type ${r.contentType}`);
  return new Scrape(r.body);
}

/** Scrape until `predicate` holds (metrics follow events by a moment); returns the last scrape. */
export async function scrapeUntil(port: number, predicate: (s: Scrape) => boolean, timeoutMs = 10_000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(port);
    if (predicate(s) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `promtool check metrics` (Debian's prometheus package) on `text`: exit code 0 and its complaints. */
export async function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const r = await execFileCollect('promtool', ['check', 'metrics'], { input: text, timeoutMs: 30_000 });
  return { code: r.code, output: `${r.stdout}${r.stderr}` };
}

/** The exposition format's sample lines (no timestamps or exemplars: prom-client writes neither). */
function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1]!, labels, value: m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]) });
  }
  return out;
}
