import fs from 'node:fs';
import { ConfigError } from '../config/config-error.js';

/** Writes our pid; returns a remover to call at exit. */
export function writePidfile(file: string): () => void {
  try {
    fs.writeFileSync(file, `${process.pid}\n`);
  } catch (err) {
    throw new ConfigError(`--pidfile ${file}: cannot write it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return () => { try { fs.unlinkSync(file); } catch { /* already gone */ } };
}
