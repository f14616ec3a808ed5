// The architecture's rule that data flows one way, checked: no module of src/ imports itself
// through others (type-only imports included: a circle of types is a circle of ideas).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../harness/index.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

test('src/ has no import cycle', () => {
  const root = join(REPO_ROOT, 'src');
  const files = sources(root);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)\.js'/gm)]
      .map((m) => resolve(dirname(f), `${m[1]}.ts`));
    edges.set(f, deps);
  }
  assert.ok(files.length > 100, `only ${files.length} sources found`);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].map((p) => relative(root, p)).join(' -> '));
      return;
    }
    state.set(f, 'open');
    stack.push(f);
    for (const d of edges.get(f) ?? []) visit(d);
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) visit(f);
  assert.deepEqual(cycles, []);
});
