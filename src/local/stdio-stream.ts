// stdin/stdout as one Duplex for stdio-server.ts.
// OpenSSH's `sftp -D` hands its server one end of a socketpair as both stdin and stdout; then a
// single net.Socket on fd 0 is the whole duplex (no wrapper layer, real backpressure). Anything
// else (two pipes, files) falls back to joining process.stdin and process.stdout.
import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';

function sameSocket(a: number, b: number): boolean {
  try {
    const sa = fstatSync(a);
    const sb = fstatSync(b);
    return sa.isSocket() && sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

export function stdioDuplex(): Duplex {
  if (sameSocket(0, 1)) return new Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true });
  return Duplex.from({ readable: process.stdin, writable: process.stdout });
}
