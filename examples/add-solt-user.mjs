#!/usr/bin/env node
// Adds (or updates) a local-mode user in the solt schema and announces it, so a running server
// picks it up at once:
//   SADD solt.sftp.users ID;  HSET solt.sftp.user.ID name NAME active True [folder FOLDER]
//   SADD solt.sftp.user.ID.keys <base64 key blob>;  PUBLISH sftp_users ID
// Usage: examples/add-solt-user.mjs ID NAME PUBLIC_KEY_FILE [FOLDER]
// FOLDER is a directory name under sftp_path; left out, the server creates one named after the user.
// Redis: SFTPPROXY_REDIS_URL, or SFTPPROXY_REDIS_HOST/_PORT/_DB/_PASSWORD; channel SFTPPROXY_REDIS_CHANNEL.
import fs from 'node:fs';
import { Redis } from 'ioredis';

const [id, name, keyFile, folder] = process.argv.slice(2);
if (!id || !name || !keyFile) {
  console.error('usage: add-solt-user.mjs ID NAME PUBLIC_KEY_FILE [FOLDER]');
  process.exit(2);
}
const blob = fs.readFileSync(keyFile, 'utf8').trim().split(/\s+/)[1];
if (!blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) {
  console.error(`${keyFile}: not an OpenSSH public key line ("ssh-ed25519 AAAA... comment")`);
  process.exit(2);
}
const env = process.env;
const redis = env.SFTPPROXY_REDIS_URL ? new Redis(env.SFTPPROXY_REDIS_URL) : new Redis({
  host: env.SFTPPROXY_REDIS_HOST ?? '127.0.0.1', port: Number(env.SFTPPROXY_REDIS_PORT ?? 6379),
  db: Number(env.SFTPPROXY_REDIS_DB ?? 1), password: env.SFTPPROXY_REDIS_PASSWORD,
});
await redis.multi()
  .sadd('solt.sftp.users', id)
  .hset(`solt.sftp.user.${id}`, { name, active: 'True', ...(folder ? { folder } : {}) })
  .sadd(`solt.sftp.user.${id}.keys`, blob)
  .publish(env.SFTPPROXY_REDIS_CHANNEL ?? 'sftp_users', id)
  .exec();
console.log(`user ${id} (${name}) added and announced`);
redis.disconnect();
