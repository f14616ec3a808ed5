// Local mode's SFTP session: our SFTP server over the user's folder, confined (ConfinedFs).
import type { Duplex } from 'node:stream';
import type { HandleQuota } from '../sftp/server/handles.js';
import { serveSftp, type SftpServerOptions, type SftpServerSession } from '../sftp/server/session.js';
import { ConfinedFs } from './confined-fs.js';

export type FolderSessionOptions = Omit<SftpServerOptions, 'fs'> & {
  /** Absolute path of the user's folder; the client sees it as "/". */
  root: string;
  /** Counts the directory the session keeps open between path walks (kept-dir.ts); unset: not counted. */
  keptDirs?: HandleQuota;
};

export function serveFolder(stream: Duplex, opts: FolderSessionOptions): SftpServerSession {
  const { root, keptDirs, ...rest } = opts;
  return serveSftp(stream, { ...rest, fs: (ended) => new ConfinedFs(root, ended, keptDirs) });
}
