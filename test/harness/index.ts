/** Reusable real-process test harness (redis-server, sshd, sftp client, the proxy). */
export * from './ports.js';
export * from './tmp.js';
export * from './keys.js';
export * from './files.js';
export * from './exec.js';
export * from './process-registry.js';
export * from './redis-server.js';
export * from './sshd.js';
export * from './sftp-cli.js';
export * from './proxy-process.js';
export * from './local-users.js';
export * from './redis-sentinel.js';
export * from './live-sftp.js';
export * from './admin-endpoint.js';
