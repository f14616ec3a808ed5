/** The per-name memory behind the solt store's re-read limit: a client inventing names cannot grow it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentNames } from '../../src/auth/recent-names.js';

test('names are remembered for the window, and never more than max of them', () => {
  const recent = new RecentNames(30_000, 1000);
  const t0 = 1_000_000;
  for (let i = 0; i < 100_000; i++) recent.record(`name-${i}`, t0 + i);
  assert.equal(recent.size, 1000, 'the oldest are forgotten first');
  assert.ok(recent.has('name-99999', t0 + 100_000));
  assert.ok(!recent.has('name-0', t0 + 100_000));

  const r = new RecentNames(30_000, 10);
  r.record('a', t0);
  assert.ok(r.has('a', t0 + 29_999));
  assert.ok(!r.has('a', t0 + 30_000), 'forgotten after the window');
  r.record('b', t0 + 40_000);
  assert.equal(r.size, 1, 'expired names are dropped as new ones come');
});
