#!/usr/bin/env node
// Adds a local-mode user in the solt schema and announces it, so a running server picks it up at once:
//   SADD solt.sftp.users ID;  HSET solt.sftp.user.ID name NAME active True [folder FOLDER]
//   SADD solt.sftp.user.ID.keys <base64 key blob>;  PUBLISH sftp_users ID
// Usage: examples/add-solt-user.mjs ID NAME PUBLIC_KEY_FILE [FOLDER]
// FOLDER is a directory name under sftp_path; left out, the server creates one named after the user.
// Redis: SFTPPROXY_REDIS_URL, or SFTPPROXY_REDIS_HOST/_PORT/_DB/_PASSWORD; channel SFTPPROXY_REDIS_CHANNEL.
//
// A thin wrapper over the admin command, which checks the key, the id, the name and the folder
// (claimed in solt.sftp.folders, so no two users share one); the same as:
//   pysftpproxy users add NAME --id ID --key PUBLIC_KEY_FILE [--folder FOLDER] --mode local
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [id, name, keyFile, folder] = process.argv.slice(2);
if (!id || !name || !keyFile) {
  console.error('usage: add-solt-user.mjs ID NAME PUBLIC_KEY_FILE [FOLDER]');
  process.exit(2);
}
const args = ['users', 'add', name, '--id', id, '--key', keyFile, ...(folder ? ['--folder', folder] : []),
  '--store', 'redis-solt', '--mode', 'local'];
const cli = fileURLToPath(new URL('../bin/pysftpproxy', import.meta.url));
const run = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
