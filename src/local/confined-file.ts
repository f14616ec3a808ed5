// An open file and an open directory listing of a user's folder, as the SFTP server sees them
// (SftpFile, SftpDir). Both were verified to lie inside the folder when ConfinedFs opened them;
// everything here acts on their descriptors, never on a path a client named.
import { closeSync, type Dir, type Stats, type StatsFs } from 'node:fs';
import { lstat, statfs } from 'node:fs/promises';
import type { AttrChanges, DirEntry, SftpDir, SftpFile } from '../sftp/server/filesystem.js';
import { applyAttrs } from './apply-attrs.js';
import { closeAsync, fstatAsync, fsyncAsync, readAt, writeAllAt } from './fd-io.js';
import { fdRef } from './proc-fd.js';

export class LocalFile implements SftpFile {
  constructor(private readonly fd: number, readonly readable: boolean, readonly writable: boolean, readonly appending: boolean) {}

  read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return readAt(this.fd, buf, offset, length, position);
  }

  write(data: Buffer, position: number): Promise<void> {
    return writeAllAt(this.fd, data, position);
  }

  stat(): Promise<Stats> {
    return fstatAsync(this.fd);
  }

  /** Truncates through the fd (as it was opened); the rest through its /proc path. */
  async setstat(a: AttrChanges): Promise<void> {
    await applyAttrs(fdRef(this.fd), await fstatAsync(this.fd), a, this.fd);
  }

  sync(): Promise<void> {
    return fsyncAsync(this.fd);
  }

  statfs(): Promise<StatsFs> {
    return statfs(fdRef(this.fd));
  }

  close(): Promise<void> {
    return closeAsync(this.fd);
  }
}

export class LocalDir implements SftpDir {
  /**
   * @param dir opened with encoding "buffer": entry names are Buffers
   * @param dirFd O_PATH descriptor of the directory, through which entries are lstat'ed race-free
   */
  constructor(private readonly dir: Dir, private readonly dirFd: number) {}

  async next(max: number): Promise<DirEntry[] | null> {
    for (;;) {
      const names: Buffer[] = [];
      let end = false;
      while (names.length < max) {
        const e = await this.dir.read();
        if (e === null) {
          end = true;
          break;
        }
        names.push(e.name as unknown as Buffer);
      }
      // Entries removed since the directory was read are skipped, as `ls` would.
      const stats = await Promise.all(names.map((n) => lstat(Buffer.concat([Buffer.from(`${fdRef(this.dirFd)}/`), n])).catch(() => null)));
      const entries: DirEntry[] = [];
      stats.forEach((stat, i) => { if (stat) entries.push({ name: names[i]!, stat }); });
      if (entries.length > 0) return entries;
      if (end) return null;
    }
  }

  stat(): Promise<Stats> {
    return fstatAsync(this.dirFd);
  }

  async setstat(a: AttrChanges): Promise<void> {
    await applyAttrs(fdRef(this.dirFd), await fstatAsync(this.dirFd), a);
  }

  statfs(): Promise<StatsFs> {
    return statfs(fdRef(this.dirFd));
  }

  async close(): Promise<void> {
    try {
      await this.dir.close();
    } finally {
      closeSync(this.dirFd); // O_PATH: nothing to flush
    }
  }
}
