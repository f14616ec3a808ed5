/**
 * The Redis Sentinel options: HOST:PORT lists from flags, environment and INI, and every mistake
 * (no port, an empty list, a port out of range, sentinels together with --redis-url, a missing
 * group name) a one-line error naming the option. Passwords appear in no message or address.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config/options.js';
import { redisAddress } from '../../src/redis/redis-connection.js';
import { rejectsConfig, runConfig } from './helpers.js';
import { makeTempDir, runCli, type TempDir } from '../harness/index.js';

let tmp: TempDir;
before(async () => { tmp = await makeTempDir('pysftpproxy-sentinel-config-'); });
after(() => tmp?.cleanup());

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  return runConfig(argv, env, tmp.path);
}

function rejects(argv: string[], env: NodeJS.ProcessEnv, ...patterns: RegExp[]): string {
  return rejectsConfig(argv, env, tmp.path, ...patterns);
}

const NAME = ['--redis-sentinel-name', 'pysftpproxy'];

test('sentinel addresses: names, IPv4, [IPv6], from a flag, the environment or the INI file', async () => {
  const c = config(['--redis-sentinels', ' sentinel-1.example:26379, 10.0.0.12:26380 ,[::1]:26381', ...NAME,
    '--redis-sentinel-password', 'sentinel-pw', '--redis-password', 'master-pw', '--redis-db', '3']);
  assert.deepEqual(c.redisSentinels, [{ host: 'sentinel-1.example', port: 26379 }, { host: '10.0.0.12', port: 26380 }, { host: '::1', port: 26381 }]);
  assert.equal(c.redisSentinelName, 'pysftpproxy');
  assert.equal(c.redisSentinelPassword, 'sentinel-pw');
  const shown = redisAddress(c);
  assert.equal(shown, 'sentinel pysftpproxy via sentinel-1.example:26379,10.0.0.12:26380,[::1]:26381 db 3');

  const fromEnv = config([], { SFTPPROXY_REDIS_SENTINELS: '127.0.0.1:26379', SFTPPROXY_REDIS_SENTINEL_NAME: 'm' });
  assert.deepEqual(fromEnv.redisSentinels, [{ host: '127.0.0.1', port: 26379 }]);
  const ini = join(tmp.path, 'sentinels.ini');
  await writeFile(ini, '[options]\nredis_sentinels = a:1,b:2\nredis_sentinel_name = m\n');
  assert.deepEqual(config(['--config', ini]).redisSentinels, [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
  assert.equal(config([]).redisSentinels, undefined, 'no sentinels by default');
});

test('a bad list names the option and the bad item', async () => {
  rejects(['--redis-sentinels', '10.0.0.11', ...NAME], {}, /--redis-sentinels/, /HOST:PORT/, /"10\.0\.0\.11" has no port/);
  rejects(['--redis-sentinels', '10.0.0.11:26379,10.0.0.12', ...NAME], {}, /"10\.0\.0\.12" has no port/);
  rejects(['--redis-sentinels=', ...NAME], {}, /--redis-sentinels/, /the list is empty/);
  rejects(['--redis-sentinels', ' , ', ...NAME], {}, /--redis-sentinels/, /the list is empty/);
  rejects([], { SFTPPROXY_REDIS_SENTINELS: 'a:70000', SFTPPROXY_REDIS_SENTINEL_NAME: 'm' }, /SFTPPROXY_REDIS_SENTINELS/, /1 to 65535/);
  rejects(['--redis-sentinels', 'a:0', ...NAME], {}, /--redis-sentinels/, /1 to 65535/);
  rejects(['--redis-sentinels', 'a b:26379', ...NAME], {}, /--redis-sentinels/, /not a host name or address/);
  rejects(['--redis-sentinels', '::1:26379', ...NAME], {}, /--redis-sentinels/, /IPv6 as \[ADDRESS\]:PORT/);
  const ini = join(tmp.path, 'bad-sentinels.ini');
  await writeFile(ini, '[options]\nredis_sentinels = sentinel-1\nredis_sentinel_name = m\n');
  rejects(['--config', ini], {}, /redis_sentinels in .*bad-sentinels\.ini/, /has no port/);
});

test('combinations: not with --redis-url, a group name required, sentinel-only options need sentinels', () => {
  const url = rejects(['--redis-sentinels', 'a:1', ...NAME, '--redis-url', 'redis://:hunter2@h:6379/1'], {},
    /--redis-sentinels and --redis-url/, /leave --redis-url unset/);
  assert.doesNotMatch(url, /hunter2/);
  rejects(['--redis-sentinels', 'a:1'], {}, /--redis-sentinels needs --redis-sentinel-name/, /SFTPPROXY_REDIS_SENTINEL_NAME/);
  rejects(['--redis-sentinels', 'a:1', '--redis-sentinel-name', 'my master'], {}, /--redis-sentinel-name/, /spaces/);
  rejects(NAME, {}, /--redis-sentinel-name is set without --redis-sentinels/);
  const pw = rejects(['--redis-sentinel-password', 'hunter2'], {}, /--redis-sentinel-password is set without --redis-sentinels/);
  assert.doesNotMatch(pw, /hunter2/);
});

test('the command line: exit 2 and one line naming the option', async () => {
  const r = await runCli([], { SFTPPROXY_REDIS_SENTINELS: '10.0.0.11', SFTPPROXY_REDIS_SENTINEL_NAME: 'pysftpproxy' }, { cwd: tmp.path });
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^pysftpproxy: SFTPPROXY_REDIS_SENTINELS="10\.0\.0\.11" is not valid: .*has no port/);
});
