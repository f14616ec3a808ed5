// Positioned reads and writes on raw fds. The callback API avoids FileHandle objects and the
// extra promise layers of fs/promises on the hot path.
import { fstat, fsync, read, write, close, type Stats } from 'node:fs';
import { promisify } from 'node:util';

export function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function writeOnce(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** pwrite until everything is written (short writes happen on full disks and some file systems). */
export async function writeAllAt(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = await writeOnce(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    done += n;
  }
}

export const fstatAsync = promisify(fstat) as (fd: number) => Promise<Stats>;
export const fsyncAsync = promisify(fsync);
export const closeAsync = promisify(close);
