/**
 * A script's direct run against its proxied run, check by check. A check is known by its name
 * and how many checks of that name came before it, so a check the proxied run never reached
 * (it stopped early) counts as failed there.
 */
import type { Check, ScriptRun } from './regress-run.js';

export interface Comparison {
  /** Checks that passed direct and failed (or never ran) through the proxy. */
  regressions: { check: string; proxied: string[] }[];
  /** Checks that failed direct: reported, and compared like the others. */
  failingDirect: { check: string; direct: string[]; proxied: string[] | 'not run' }[];
  /** A table of every check, for the report. */
  table: string;
}

const keyed = (checks: Check[]): Map<string, Check> => {
  const seen = new Map<string, number>();
  const out = new Map<string, Check>();
  for (const c of checks) {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    out.set(n === 1 ? c.name : `${c.name} (#${n})`, c);
  }
  return out;
};

export function compareRuns(direct: ScriptRun, proxied: ScriptRun): Comparison {
  const d = keyed(direct.checks);
  const p = keyed(proxied.checks);
  const regressions: Comparison['regressions'] = [];
  const failingDirect: Comparison['failingDirect'] = [];
  const rows: string[] = [];
  const verdict = (c: Check | undefined): string => (!c ? 'not run' : c.failures.length === 0 ? 'ok' : 'FAIL');
  for (const [name, dc] of d) {
    const pc = p.get(name);
    rows.push(`  ${verdict(dc).padEnd(7)} ${verdict(pc).padEnd(7)} ${name}`);
    if (dc.failures.length > 0) failingDirect.push({ check: name, direct: dc.failures, proxied: pc ? pc.failures : 'not run' });
    else if (!pc || pc.failures.length > 0) regressions.push({ check: name, proxied: pc ? pc.failures : ['(never reached: the proxied run stopped before it)'] });
  }
  for (const [name, pc] of p) {
    if (!d.has(name)) rows.push(`  ${'not run'.padEnd(7)} ${verdict(pc).padEnd(7)} ${name}`);
  }
  const table = [`  ${'direct'.padEnd(7)} ${'proxied'.padEnd(7)} check`, ...rows].join('\n');
  return { regressions, failingDirect, table };
}
