import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Equality whose time does not depend on where two values differ (or on their lengths):
 * both are hashed to fixed-size digests first, then compared with timingSafeEqual.
 */
export function constantTimeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Whether `needle` equals any of `candidates`, comparing against all of them (no early exit).
 * The needle (client input) is hashed once, not once per candidate.
 */
export function constantTimeIncludes(candidates: Iterable<Buffer | string>, needle: Buffer | string): boolean {
  const dn = createHash('sha256').update(needle).digest();
  let found = false;
  for (const c of candidates) found = timingSafeEqual(createHash('sha256').update(c).digest(), dn) || found;
  return found;
}
