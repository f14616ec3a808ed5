// pino, structured: one JSON line per event an operator cares about. Pretty output is a small
// built-in formatter (no pino-pretty dependency) used on a terminal or with --log-pretty.
import { pino, type Logger } from 'pino';
import type { Config } from '../config/options.js';
import { onSighup } from '../runtime/sighup.js';

export type { Logger };

/** Secrets never reach the log, even if a caller passes one by mistake. */
const REDACT = ['password', 'redisPassword', 'passphrase', 'privateKey', '*.password', '*.privateKey'];

function prettyLine(line: string): string {
  try {
    const { level, time, msg, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const names: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
    // Values come from clients too (user names): anything but a plain word is quoted and
    // escaped, so a name holding a newline cannot forge a log line.
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"\\\x00-\x1f\x7f]*$/.test(v) ? v : JSON.stringify(v)}`).join(' ');
    return `${new Date(time as number).toISOString()} ${names[level as number] ?? level} ${msg}${fields ? ' ' + fields : ''}\n`;
  } catch {
    return line;
  }
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty' | 'logfile'>): Logger {
  // Synchronous writes: the last lines before an exit ("shutting down", a fatal error) must not
  // be lost in a buffer. One line per event is cheap enough to write at once.
  const target = config.logfile
    ? pino.destination({ dest: config.logfile, append: true, sync: true })
    : pino.destination({ fd: 1, sync: true });
  // logrotate moves the file and sends SIGHUP: start a new one under the configured name.
  if (config.logfile) onSighup(() => target.reopen());
  const options = { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined };
  if (!config.logPretty) return pino(options, target);
  return pino(options, { write: (line: string) => target.write(prettyLine(line)) });
}
