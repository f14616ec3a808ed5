// What the demo needs of an upstream SFTP server, whichever kind runs it: a folder whose files a
// user sees, and an address, login and pinned host key for the route.
import type { Logger } from 'pino';
import type { OwnedProcesses } from './owned-processes.js';

export interface DemoUpstream {
  /** What runs it, for the printed summary ("OpenSSH sshd", "pysftpproxy local mode"). */
  kind: string;
  port: number;
  /** The upstream login the proxy uses. */
  user: string;
  /** `SHA256:...`, pinned in the route. */
  hostKeyFingerprint: string;
  /** Where this upstream's files land on disk (what its users see as their start directory). */
  files: string;
  stop(): Promise<void>;
}

export interface UpstreamSpec {
  /** Its own directory (keys, config, log, files/). */
  dir: string;
  /** `A`, `B`: for logs and messages. */
  label: string;
  /** The proxy's upstream public key line, the only one allowed in. */
  proxyKeyLine: string;
  log: Logger;
  /** Readable log lines (as the demo's own), or JSON. */
  logPretty: boolean;
  owned: OwnedProcesses;
}
