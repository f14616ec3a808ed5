// How an admin command fails. Both are one line on stderr, never a stack trace.

/** The request was refused before anything was written (bad input, a name taken, ...): exit 2. */
export class RefusedError extends Error {
  override name = 'RefusedError';
}

/** The store could not be asked or answered with an error (Redis down, file unwritable): exit 1. */
export class StoreError extends Error {
  override name = 'StoreError';
}

export function refuse(message: string): never {
  throw new RefusedError(message);
}
