// A session's open handles. Handle strings are 4-byte counters that are never reused within a
// session, so a handle kept after CLOSE can never alias a newer file.
//
// Room for a handle is taken before anything is opened (so a full table costs no descriptor),
// from the session's own cap and from an optional quota shared with other sessions: the user's
// and the process's descriptors (src/local/handle-budget.ts).
import { FX } from '../protocol/constants.js';
import type { SftpDir, SftpFile } from './filesystem.js';
import { SftpStatusError } from './status.js';

export interface FileHandle {
  kind: 'file';
  file: SftpFile;
  /**
   * WRITEs on an append handle, chained in arrival order: the kernel appends each pwrite where
   * the file ends then, whatever its offset, so writes run side by side would land reordered.
   */
  appends: Promise<void>;
}

export interface DirHandle {
  kind: 'dir';
  dir: SftpDir;
  /** Set once the listing is exhausted, so later READDIRs answer EOF without touching the Dir. */
  eof: boolean;
}

export type Handle = FileHandle | DirHandle;

/** Descriptors a handle holds: a listing keeps the directory's own O_PATH descriptor too. */
export const HANDLE_DESCRIPTORS: Readonly<Record<Handle['kind'], number>> = { file: 1, dir: 2 };

/** Which cap a refusal hit. */
export type QuotaCap = 'session' | 'user' | 'process';

/** Descriptors shared with other sessions. */
export interface HandleQuota {
  /** Take n descriptors, or name the cap that is full (nothing taken then). */
  take(n: number): Exclude<QuotaCap, 'session'> | null;
  give(n: number): void;
  /** Descriptors that could be taken now. */
  room(): number;
}

/** A handle refused for lack of room: FAILURE to the client, as OpenSSH answers. */
export class HandleLimitError extends SftpStatusError {
  override name = 'HandleLimitError';
  constructor(readonly cap: QuotaCap) {
    super(FX.FAILURE, 'too many open handles');
  }
}

function invalidHandle(): SftpStatusError {
  // v3 has no INVALID_HANDLE status; OpenSSH answers FAILURE too.
  return new SftpStatusError(FX.FAILURE, 'Invalid handle');
}

export class HandleTable {
  private readonly byId = new Map<number, Handle>();
  private next = 1;
  /** Opens under way (room taken, handle not yet in the table). */
  private opening = 0;

  constructor(readonly max: number, private readonly quota?: HandleQuota) {}

  get size(): number {
    return this.byId.size;
  }

  /** Handles that could still be opened (the limits@openssh.com answer). */
  get room(): number {
    const mine = this.max - this.byId.size - this.opening;
    return Math.max(0, this.quota ? Math.min(mine, this.quota.room()) : mine);
  }

  /**
   * Take room for a handle of `kind`, run `make` (which opens it) and add its result; room is
   * given back if `make` fails. Throws HandleLimitError, before calling `make`, when full.
   */
  async open(kind: Handle['kind'], make: () => Promise<Handle>): Promise<Buffer> {
    if (this.byId.size + this.opening >= this.max) throw new HandleLimitError('session');
    const n = HANDLE_DESCRIPTORS[kind];
    const full = this.quota?.take(n);
    if (full) throw new HandleLimitError(full);
    this.opening++;
    let h: Handle;
    try {
      h = await make();
    } catch (err) {
      this.quota?.give(n);
      throw err;
    } finally {
      this.opening--;
    }
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
    this.quota?.give(HANDLE_DESCRIPTORS[h.kind]);
    return h;
  }

  /** Empty the table (session end) and return what was in it. */
  drain(): Handle[] {
    const all = [...this.byId.values()];
    this.byId.clear();
    for (const h of all) this.quota?.give(HANDLE_DESCRIPTORS[h.kind]);
    return all;
  }
}
