// The `ls -l` line OpenSSH's sftp-server puts in READDIR replies (ls_file() in sftp-common.c):
// "%s %3u %-8s %-8s %8llu %s %s" with strmode(), numeric uid/gid (no host user names leak),
// and "Mon dd HH:MM" for files from the last six months, "Mon dd  YYYY" otherwise.
import type { FileStat } from './filesystem.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HALF_YEAR_MS = ((365 * 24 * 60 * 60) / 2) * 1000;

function typeChar(mode: number): string {
  switch (mode & 0o170000) {
    case 0o040000: return 'd';
    case 0o120000: return 'l';
    case 0o020000: return 'c';
    case 0o060000: return 'b';
    case 0o010000: return 'p';
    case 0o140000: return 's';
    default: return '-';
  }
}

function triad(bits: number, special: boolean, specialChar: string): string {
  const r = bits & 4 ? 'r' : '-';
  const w = bits & 2 ? 'w' : '-';
  let x = bits & 1 ? 'x' : '-';
  if (special) x = bits & 1 ? specialChar : specialChar.toUpperCase();
  return r + w + x;
}

/** strmode(3): type char plus nine permission chars, then a space (for the ACL marker). */
export function modeString(mode: number): string {
  return (
    typeChar(mode) +
    triad((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    triad((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    triad(mode & 7, (mode & 0o1000) !== 0, 't') +
    ' '
  );
}

function timeString(mtimeMs: number, nowMs: number): string {
  const d = new Date(mtimeMs);
  const day = String(d.getDate()).padStart(2, ' ');
  const head = `${MONTHS[d.getMonth()]} ${day}`;
  if (nowMs - HALF_YEAR_MS < mtimeMs && nowMs >= mtimeMs) {
    const hh = String(d.getHours()).padStart(2, '0');
    const mm = String(d.getMinutes()).padStart(2, '0');
    return `${head} ${hh}:${mm}`;
  }
  return `${head}  ${d.getFullYear()}`;
}

/** The line for `name`; a Buffer name (bytes from the disk) gives a Buffer line carrying those bytes. */
export function longname(name: string, st: FileStat, nowMs?: number): string;
export function longname(name: Buffer, st: FileStat, nowMs?: number): Buffer;
export function longname(name: string | Buffer, st: FileStat, nowMs = Date.now()): string | Buffer {
  const nlink = String(st.nlink).padStart(3, ' ');
  const user = String(st.uid).padEnd(8, ' ');
  const group = String(st.gid).padEnd(8, ' ');
  const size = String(st.size).padStart(8, ' ');
  const head = `${modeString(st.mode)} ${nlink} ${user} ${group} ${size} ${timeString(st.mtimeMs, nowMs)} `;
  return typeof name === 'string' ? head + name : Buffer.concat([Buffer.from(head), name]);
}
