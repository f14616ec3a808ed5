// Which handler serves each request type, and whether it may overlap with others
// (see scheduler.ts for why only data transfers run in parallel).
import { FXP } from '../protocol/constants.js';
import type { Route } from './context.js';
import { opendir, readdir } from './ops-dir.js';
import { close, fsetstat, fstat, open, read, write } from './ops-file.js';
import * as path from './ops-path.js';

const par = (handler: Route['handler']): Route => ({ kind: 'parallel', handler });
const ser = (handler: Route['handler']): Route => ({ kind: 'serial', handler });

export const ROUTES: ReadonlyMap<number, Route> = new Map<number, Route>([
  [FXP.OPEN, ser(open)],
  [FXP.CLOSE, ser(close)],
  [FXP.READ, par(read)],
  [FXP.WRITE, par(write)],
  [FXP.FSTAT, par(fstat)],
  [FXP.LSTAT, ser(path.lstat)],
  [FXP.SETSTAT, ser(path.setstat)],
  [FXP.FSETSTAT, ser(fsetstat)],
  [FXP.OPENDIR, ser(opendir)],
  [FXP.READDIR, ser(readdir)],
  [FXP.REMOVE, ser(path.remove)],
  [FXP.MKDIR, ser(path.mkdir)],
  [FXP.RMDIR, ser(path.rmdir)],
  [FXP.REALPATH, ser(path.realpath)],
  [FXP.STAT, ser(path.stat)],
  [FXP.RENAME, ser(path.rename)],
  [FXP.READLINK, ser(path.readlink)],
  [FXP.SYMLINK, ser(path.symlink)],
]);
