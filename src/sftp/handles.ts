// A session's open handles. Handle strings are 4-byte counters that are never reused within a
// session, so a handle kept after CLOSE can never alias a newer file.
import type { OpenDir } from '../local/confined-fs.js';
import { FX } from './constants.js';
import { SftpStatusError } from './status.js';

export interface FileHandle {
  kind: 'file';
  fd: number;
  readable: boolean;
  writable: boolean;
}

export interface DirHandle {
  kind: 'dir';
  open: OpenDir;
  /** Set once the listing is exhausted, so later READDIRs answer EOF without touching the Dir. */
  eof: boolean;
}

export type Handle = FileHandle | DirHandle;

function invalidHandle(): SftpStatusError {
  // v3 has no INVALID_HANDLE status; OpenSSH answers FAILURE too.
  return new SftpStatusError(FX.FAILURE, 'Invalid handle');
}

export class HandleTable {
  private readonly byId = new Map<number, Handle>();
  private next = 1;

  constructor(readonly max: number) {}

  get size(): number {
    return this.byId.size;
  }

  /** Call before opening anything, so a full table costs no file descriptor. */
  checkRoom(): void {
    if (this.byId.size >= this.max) throw new SftpStatusError(FX.FAILURE, 'too many open handles');
  }

  add(h: Handle): Buffer {
    this.checkRoom();
    const id = this.next;
    this.next = (this.next + 1) >>> 0 || 1;
    this.byId.set(id, h);
    const s = Buffer.allocUnsafe(4);
    s.writeUInt32BE(id, 0);
    return s;
  }

  private idOf(handle: Buffer): number {
    return handle.length === 4 ? handle.readUInt32BE(0) : 0;
  }

  get(handle: Buffer): Handle {
    const h = this.byId.get(this.idOf(handle));
    if (!h) throw invalidHandle();
    return h;
  }

  file(handle: Buffer): FileHandle {
    const h = this.get(handle);
    if (h.kind !== 'file') throw invalidHandle();
    return h;
  }

  dir(handle: Buffer): DirHandle {
    const h = this.get(handle);
    if (h.kind !== 'dir') throw invalidHandle();
    return h;
  }

  /** Take a handle out of the table (CLOSE); the caller releases what it holds. */
  remove(handle: Buffer): Handle {
    const id = this.idOf(handle);
    const h = this.byId.get(id);
    if (!h) throw invalidHandle();
    this.byId.delete(id);
    return h;
  }

  /** Empty the table (session end) and return what was in it. */
  drain(): Handle[] {
    const all = [...this.byId.values()];
    this.byId.clear();
    return all;
  }
}
