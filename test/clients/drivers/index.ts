/** Every real-client driver, in the order the matrix runs them. */
import { asyncssh } from './asyncssh.js';
import { curl } from './curl.js';
import { lftp } from './lftp.js';
import { openssh } from './openssh.js';
import { paramiko } from './paramiko.js';
import { psftp } from './psftp.js';
import { rclone } from './rclone.js';
import { sshfs } from './sshfs.js';
import type { Driver } from './types.js';

export { asyncssh, curl, lftp, openssh, paramiko, psftp, rclone, sshfs };
export * from './types.js';

export const DRIVERS: readonly Driver[] = [openssh, psftp, lftp, curl, rclone, sshfs, paramiko, asyncssh];
