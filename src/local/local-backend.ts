// Local mode's backend: each sftp channel is served by our own SFTP server, confined to the
// user's folder (src/sftp + src/local/confined-fs.ts). One HandleBudget for the process bounds
// the descriptors each user's sessions hold, together.
import type { StoredUser } from '../auth/user-store.js';
import type { Backend, BackendConnection, ConnectionContext, SftpChannel, TransferCounters } from '../server/backend.js';
import type { HandleQuota } from '../sftp/server/handles.js';
import { type SftpServerSession } from '../sftp/server/session.js';
import { serveFolder } from './serve-folder.js';
import { HandleBudget, ProcessQuota, keptDirsTotal } from './handle-budget.js';

export interface LocalBackendOptions {
  /** Open handles per session. */
  maxHandles: number;
  /** Descriptors one user's handles may hold across all their sessions. */
  maxHandlesPerUser: number;
  /** Descriptors all handles together may hold (see processHandleBudgetTotal). */
  maxHandlesTotal: number;
}

export class LocalBackend implements Backend {
  private readonly budget: HandleBudget;
  /** The directories sessions keep open between path walks (kept-dir.ts), all together. */
  private readonly keptDirs: ProcessQuota;

  constructor(private readonly opts: LocalBackendOptions) {
    this.budget = new HandleBudget({ perUser: opts.maxHandlesPerUser, total: opts.maxHandlesTotal });
    this.keptDirs = new ProcessQuota(keptDirsTotal(opts.maxHandlesTotal));
  }

  refusal(user: StoredUser): string | undefined {
    return user.target.kind === 'folder' ? undefined : 'the user has a route, not a folder: local mode serves folders';
  }

  connect(ctx: ConnectionContext): BackendConnection {
    const target = ctx.user.target;
    if (target.kind !== 'folder') throw new Error('local backend asked to serve an upstream user (refusal() let it in)');
    return new LocalConnection(target.path, ctx, this.opts.maxHandles, this.budget.account(ctx.user.name), this.keptDirs);
  }

  async close(): Promise<void> {}
}

class LocalConnection implements BackendConnection {
  private readonly sessions = new Set<SftpServerSession>();
  /** Bytes of the sessions that ended, so counters stay whole after they are forgotten. */
  private readonly ended: TransferCounters = { bytesUp: 0, bytesDown: 0 };

  constructor(private readonly folder: string, private readonly ctx: ConnectionContext, private readonly maxHandles: number,
    private readonly handleQuota: HandleQuota, private readonly keptDirs: HandleQuota) {}

  openSftp(channel: SftpChannel): void {
    const session = serveFolder(channel, {
      root: this.folder, log: this.ctx.log, maxHandles: this.maxHandles, handleQuota: this.handleQuota, keptDirs: this.keptDirs,
      inspector: this.ctx.inspector?.(),
      copiesOnWrite: true, // an ssh2 channel copies each chunk into SSH packets before calling back
    });
    this.sessions.add(session);
    void session.done.then(() => {
      this.sessions.delete(session);
      this.ended.bytesUp += session.counters.bytesUp;
      this.ended.bytesDown += session.counters.bytesDown;
    });
  }

  get counters(): TransferCounters {
    let { bytesUp, bytesDown } = this.ended;
    for (const s of this.sessions) { bytesUp += s.counters.bytesUp; bytesDown += s.counters.bytesDown; }
    return { bytesUp, bytesDown };
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }
}
