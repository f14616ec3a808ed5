// Results of the benchmark cases, printed as an aligned table (pastes as Markdown) or as JSON.

export type Verdict = 'met' | 'NOT MET' | '';
export type CaseStatus = 'ok' | 'not available' | 'failed';

/** One line of the table: a measure for the baseline (OpenSSH) and the product, side by side. */
export interface Row {
  measure: string;
  /** Formatted baseline value, e.g. "direct 245.1". */
  baseline: string;
  /** Formatted product value, e.g. "proxied 181.0". */
  product: string;
  /** Ratio product/baseline or a difference, formatted. */
  ratio: string;
  /** Target text, e.g. "≥ 0.90"; empty when the measure has no target. */
  target: string;
  verdict: Verdict;
  /** Raw numbers for --json. */
  values: Record<string, number | string | boolean | null>;
}

export interface CaseResult {
  name: string;
  status: CaseStatus;
  /** Why a case is not available or failed, and other remarks, one line each. */
  notes: string[];
  rows: Row[];
  /** Raw samples and anything else worth keeping in the JSON. */
  details: Record<string, unknown>;
  durationMs: number;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  options: Record<string, unknown>;
  environment: Record<string, string | number | boolean>;
  cases: CaseResult[];
  /** Transfers whose bytes differed (or that failed): each makes the run exit 1. */
  integrityFailures: string[];
}

export function verdict(ok: boolean): Verdict {
  return ok ? 'met' : 'NOT MET';
}

export function fmt(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

export function fmtRatio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '—';
}

export function fmtSigned(value: number, digits = 1, unit = ''): string {
  if (!Number.isFinite(value)) return '—';
  return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}${unit}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

export function renderText(report: BenchReport): string {
  const out: string[] = [];
  out.push('## pysftpproxy benchmark');
  out.push('');
  for (const [k, v] of Object.entries(report.environment)) out.push(`- ${k}: ${String(v)}`);
  out.push(`- options: ${Object.entries(report.options).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')}`);
  out.push('');
  const rows: string[][] = [];
  for (const c of report.cases) {
    if (c.rows.length === 0) {
      rows.push([c.name, c.status === 'ok' ? '(no rows)' : c.status, '', '', '', '', '']);
      continue;
    }
    for (const r of c.rows) rows.push([c.name, r.measure, r.baseline, r.product, r.ratio, r.target, r.verdict]);
  }
  out.push(table(['case', 'measure', 'baseline', 'product', 'ratio / Δ', 'target', 'result'], rows));
  const notes = report.cases.filter((c) => c.notes.length > 0);
  if (notes.length > 0) {
    out.push('');
    out.push('Notes:');
    for (const c of notes) for (const n of c.notes) out.push(`- ${c.name}: ${n}`);
  }
  out.push('');
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  out.push(`Case times: ${report.cases.map((c) => `${c.name} ${seconds(c.durationMs)}`).join(', ')}; total ${seconds(report.durationMs)}.`);
  if (report.integrityFailures.length > 0) {
    out.push('');
    out.push(integrityBanner(report.integrityFailures));
  } else {
    out.push('All transfers verified byte-identical (sha256).');
  }
  return out.join('\n') + '\n';
}

export function integrityBanner(failures: string[]): string {
  const bar = '!'.repeat(78);
  return [bar, `!!! ${failures.length} TRANSFER(S) FAILED OR WERE NOT BYTE-IDENTICAL: the figures above are void`, ...failures.map((f) => `!!! ${f}`), bar].join('\n');
}

export function renderJson(report: BenchReport): string {
  return JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
