// Encoders for the server's reply packets.
import type { Attrs } from './attrs.js';
import { NO_ATTRS } from './attrs.js';
import { FX, FXP, STATUS_MESSAGES } from './constants.js';
import { PacketWriter } from './packet-writer.js';

export function statusReply(id: number, code: number, message?: string): Buffer {
  const msg = message ?? STATUS_MESSAGES[code] ?? 'Failure';
  return new PacketWriter(FXP.STATUS, 32 + msg.length).u32(id).u32(code).string(msg).string('').finish();
}

export function okReply(id: number): Buffer {
  return statusReply(id, FX.OK);
}

export function handleReply(id: number, handle: Buffer): Buffer {
  return new PacketWriter(FXP.HANDLE, 16 + handle.length).u32(id).string(handle).finish();
}

export function attrsReply(id: number, a: Attrs): Buffer {
  return new PacketWriter(FXP.ATTRS, 48).u32(id).attrs(a).finish();
}

/** Names are bytes (Buffer) as on disk; a string is sent as UTF-8. */
export interface NameEntry {
  name: Buffer | string;
  longname: Buffer | string;
  attrs: Attrs;
}

export function nameReply(id: number, entries: readonly NameEntry[]): Buffer {
  const w = new PacketWriter(FXP.NAME, 64 + entries.length * 128).u32(id).u32(entries.length);
  for (const e of entries) w.string(e.name).string(e.longname).attrs(e.attrs);
  return w.finish();
}

/** NAME with a single path and no attributes: REALPATH, READLINK, expand-path (as OpenSSH). */
export function singleNameReply(id: number, name: Buffer | string): Buffer {
  return nameReply(id, [{ name, longname: name, attrs: NO_ATTRS }]);
}

/** Bytes before the file data in a DATA reply: length, type, id, data length. */
export const DATA_HEADER = 13;

/**
 * Completes a DATA reply whose file bytes were read straight into buf[DATA_HEADER...], so the
 * data is never copied between the read and the socket.
 */
export function finishDataReply(buf: Buffer, id: number, n: number): Buffer {
  buf.writeUInt32BE(9 + n, 0);
  buf[4] = FXP.DATA;
  buf.writeUInt32BE(id >>> 0, 5);
  buf.writeUInt32BE(n, 9);
  return buf.subarray(0, DATA_HEADER + n);
}

export function versionReply(version: number, extensions: ReadonlyArray<readonly [string, string]>): Buffer {
  const w = new PacketWriter(FXP.VERSION, 512).u32(version);
  for (const [name, data] of extensions) w.string(name).string(data);
  return w.finish();
}
