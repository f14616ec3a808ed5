#!/usr/bin/env node
// Registers a proxy-mode user in Redis (the pysftpproxy schema) from their OpenSSH public key file:
//   pysftpproxy:pubkey:<base64 key blob> -> NAME
//   pysftpproxy:user:NAME                -> hash remote, port, user, home
// Usage: examples/add-proxy-user.mjs NAME PUBLIC_KEY_FILE REMOTE_HOST [PORT] [UPSTREAM_USER] [HOME]
// Redis is found like the proxy finds it: SFTPPROXY_REDIS_URL, or SFTPPROXY_REDIS_HOST/_PORT/_DB/_PASSWORD.
//
// A thin wrapper over the admin command, which checks the key, the route and the name and announces
// the new user on the change channel; the same as:
//   pysftpproxy users add NAME --key PUBLIC_KEY_FILE --remote REMOTE_HOST --port PORT [--upstream-user U] [--home HOME]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [name, keyFile, remote, port = '22', user, home] = process.argv.slice(2);
if (!name || !keyFile || !remote) {
  console.error('usage: add-proxy-user.mjs NAME PUBLIC_KEY_FILE REMOTE_HOST [PORT] [UPSTREAM_USER] [HOME]');
  process.exit(2);
}
const args = ['users', 'add', name, '--key', keyFile, '--remote', remote, '--port', port,
  ...(user ? ['--upstream-user', user] : []), ...(home ? ['--home', home] : []),
  // This script has always written the Redis pysftpproxy schema, whatever store the environment names.
  '--store', 'redis', '--mode', 'proxy'];
const cli = fileURLToPath(new URL('../bin/pysftpproxy', import.meta.url));
const run = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
