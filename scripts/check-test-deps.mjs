#!/usr/bin/env node
// Run before the tests: names any missing system tool and the one command that installs them all,
// instead of letting dozens of tests fail with "spawn ENOENT".
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const tools = ['/usr/sbin/sshd', '/usr/lib/openssh/sftp-server', 'setpriv', 'sftp', 'ssh-keygen', 'redis-server', 'redis-sentinel', 'systemd-analyze',
  'psftp', 'puttygen', 'lftp', 'curl', 'rclone', 'sshfs', 'fusermount3', '/usr/sbin/haproxy', 'promtool'];
const dirs = (process.env.PATH ?? '').split(':');
const found = (t) => [t.startsWith('/') ? t : null, ...dirs.map((d) => `${d}/${t}`)].some((p) => {
  if (!p) return false;
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
});
const missing = tools.filter((t) => !found(t));
// OpenSSH's regression suite (test/regress), which has no command on the PATH.
try { accessSync('/usr/lib/openssh/regress/test-exec.sh', constants.R_OK); } catch { missing.push('openssh-tests'); }
for (const mod of ['paramiko', 'asyncssh']) {
  try { execFileSync('/usr/bin/python3', ['-c', `import ${mod}`], { stdio: 'ignore' }); } catch { missing.push(`python3-${mod}`); }
}
if (missing.length) {
  console.error(`tests need system tools that are missing: ${missing.join(', ')}\n` +
    'install them with: scripts/install-test-deps.sh   (Debian/Ubuntu; runs apt-get)');
  process.exit(1);
}
