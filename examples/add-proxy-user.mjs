#!/usr/bin/env node
// Registers a proxy-mode user in Redis (the pysftpproxy schema) from their OpenSSH public key file:
//   pysftpproxy:pubkey:<base64 key blob> -> NAME
//   pysftpproxy:user:NAME                -> hash remote, port, user, home
// Usage: examples/add-proxy-user.mjs NAME PUBLIC_KEY_FILE REMOTE_HOST [PORT] [UPSTREAM_USER] [HOME]
// Redis is found like the proxy finds it: SFTPPROXY_REDIS_URL, or SFTPPROXY_REDIS_HOST/_PORT/_DB/_PASSWORD.
import fs from 'node:fs';
import { Redis } from 'ioredis';

const [name, keyFile, remote, port = '22', user, home] = process.argv.slice(2);
if (!name || !keyFile || !remote) {
  console.error('usage: add-proxy-user.mjs NAME PUBLIC_KEY_FILE REMOTE_HOST [PORT] [UPSTREAM_USER] [HOME]');
  process.exit(2);
}
// A .pub line is "type base64 comment": the key is the base64 blob, without type and comment.
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
const route = { remote, port, ...(user ? { user } : {}), ...(home ? { home } : {}) };
await redis.multi()
  .set(`pysftpproxy:pubkey:${blob}`, name)
  .del(`pysftpproxy:user:${name}`)
  .hset(`pysftpproxy:user:${name}`, route)
  .exec();
console.log(`${name}: key registered, route ${user ?? '(default user)'}@${remote}:${port}${home ? ' home ' + home : ''}`);
redis.disconnect();
