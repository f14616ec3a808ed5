// File names are bytes. On disk and in SFTP packets a name is a byte string in no particular
// encoding (OpenSSH passes them through untouched), so decoding one as UTF-8 would turn a Latin-1
// "caf\xE9" into "caf\uFFFD": a name the client could list but never open. Inside the jail code a
// name is therefore held as a byte string: a JS string with one char per byte (latin1), so that
// splitting on "/" and comparing with ".." stay plain string work, and every fs call gets
// exactly the original bytes back as a Buffer.

/** A path as a client (or a test, or our own code) names it: bytes, or UTF-8 text. */
export type PathArg = Buffer | string;

/** The bytes of `p`, one char per byte. A string argument is UTF-8 text. */
export function byteString(p: PathArg): string {
  return (typeof p === 'string' ? Buffer.from(p, 'utf8') : p).toString('latin1');
}

/** The byte string `s` as the Buffer path fs calls take. */
export function fsPath(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}
