// The SFTP-aware middle of a proxied session: the client's requests and the upstream's replies
// pass as the same bytes, but each packet's head is read on its way (packet-tap.ts) and shown to
// the session's inspector (policy and audit). A denied request never reaches the upstream: the
// client gets PERMISSION_DENIED from us, slipped in between the upstream's replies. A request
// that needs to know whether a path exists first (see sftp-policy.ts) waits while the proxy asks
// the upstream with an LSTAT of its own; its reply is taken out before the client could see it.
// While a probe is out, nothing else from the client moves, so the probe's id cannot meet one of
// the client's: it is chosen among the ids not outstanding at the upstream.
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { FX, FXP } from '../sftp/protocol/constants.js';
import { PacketWriter } from '../sftp/protocol/packet-writer.js';
import { statusReply } from '../sftp/protocol/replies.js';
import { headBytesFor, replyHeadBytesFor } from '../sftp/protocol/requests.js';
import type { InspectAction, SftpInspector } from '../sftp/inspection.js';
import { PacketTap, type TapAction } from './packet-tap.js';

/** Larger than anything an SFTP peer sends (OpenSSH caps packets at 256 KiB). */
const MAX_PACKET = 1024 * 1024;
/** Ids the client may have outstanding that we keep track of; past it the client is not sane. */
const MAX_OUTSTANDING = 100_000;
/**
 * Bytes of our own replies (denials) waiting for the client to read them before we stop reading
 * its requests: a client that sends denied requests and never reads must not grow our memory.
 */
const MAX_REPLY_BACKLOG = 256 * 1024;

interface Probe {
  id: number;
  resolve: (exists: boolean) => void;
}

export class SftpFilter {
  readonly up: PacketTap;
  readonly down: PacketTap;
  /** Request ids forwarded to the upstream and not answered yet. */
  private readonly outstanding = new Set<number>();
  private probe: Probe | undefined;

  constructor(private readonly inspector: SftpInspector, private readonly log: Logger, onBroken: (why: string) => void) {
    this.up = new PacketTap({ headBytes: headBytesFor, maxPacket: MAX_PACKET, onBroken, onPacket: (head, total) => this.onRequest(head, total) });
    this.down = new PacketTap({ headBytes: replyHeadBytesFor, maxPacket: MAX_PACKET, onBroken, onPacket: (head) => this.onReply(head) });
  }

  private onRequest(head: Buffer, total: number): TapAction {
    // INIT has no id and decides nothing. Anything else, first packet or not, is inspected: a
    // session that does not start with INIT must not carry one request past us unseen.
    if (head[0] === FXP.INIT) return 'pass';
    let action: InspectAction;
    try {
      action = this.inspector.request(head, total);
    } catch (err) {
      this.log.error({ err }, 'bug: sftp inspection failed; request denied');
      return this.denyRaw(head);
    }
    return this.carryOut(action, head);
  }

  private carryOut(action: InspectAction, head: Buffer): TapAction {
    switch (action.kind) {
      case 'pass':
        this.forwarding(head);
        return 'pass';
      case 'reply':
        this.down.inject(action.packet);
        if (this.down.backlog <= MAX_REPLY_BACKLOG) return 'drop';
        return { wait: this.down.drainedTo(MAX_REPLY_BACKLOG / 2).then(() => 'drop' as const) };
      case 'replace':
        this.forwarding(action.packet.subarray(4));
        return { replace: action.packet };
      case 'probe':
        return { wait: this.ask(action.path).then((exists) => this.afterProbe(action, exists, head)) };
    }
  }

  private afterProbe(action: Extract<InspectAction, { kind: 'probe' }>, exists: boolean, head: Buffer): TapAction {
    try {
      return this.carryOut(action.then(exists), head);
    } catch (err) {
      this.log.error({ err }, 'bug: sftp inspection failed after a probe; request denied');
      return this.denyRaw(head);
    }
  }

  private forwarding(head: Buffer): void {
    if (head.length < 5) return;
    if (this.outstanding.size < MAX_OUTSTANDING) this.outstanding.add(head.readUInt32BE(1));
  }

  /** A request we cannot look at is refused, not forwarded unseen. */
  private denyRaw(head: Buffer): TapAction {
    if (head.length >= 5) this.down.inject(statusReply(head.readUInt32BE(1), FX.PERMISSION_DENIED));
    return 'drop';
  }

  /** LSTAT `path` at the upstream: does it exist? (Anything but NO_SUCH_FILE counts as yes: fail closed.) */
  private ask(path: Buffer): Promise<boolean> {
    let id: number;
    do id = randomInt(0x1000_0000, 0xffff_ffff); while (this.outstanding.has(id));
    return new Promise((resolve) => {
      this.probe = { id, resolve };
      this.up.inject(new PacketWriter(FXP.LSTAT, 32 + path.length).u32(id).string(path).finish());
    });
  }

  private onReply(head: Buffer): TapAction {
    if (head.length < 5 || head[0] === FXP.VERSION) return 'pass';
    const id = head.readUInt32BE(1);
    const probe = this.probe;
    if (probe && id === probe.id && !this.outstanding.has(id)) {
      this.probe = undefined;
      const missing = head[0] === FXP.STATUS && head.length >= 9 && head.readUInt32BE(5) === FX.NO_SUCH_FILE;
      probe.resolve(!missing);
      return 'drop'; // ours: the client never sent it
    }
    this.outstanding.delete(id);
    try {
      this.inspector.reply(head);
    } catch (err) {
      this.log.error({ err }, 'bug: sftp reply inspection failed');
    }
    return 'pass';
  }

  /** The session ended: a probe still waiting will get no answer. */
  end(): void {
    this.probe?.resolve(true);
    this.probe = undefined;
    this.inspector.end();
  }
}
