/**
 * loadConfig(argv, env, cwd) called directly: precedence (defaults < INI file
 * < environment and ./.env < flags), INI aliases, and one-line ConfigErrors
 * that name the option and what is expected.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/options.js';
import { rejectsConfig, runConfig } from './helpers.js';
import { makeTempDir, type TempDir } from '../harness/index.js';

describe('loadConfig', () => {
  let tmp: TempDir;
  let emptyDir: string;
  let keyFile: string;

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-config-');
    emptyDir = tmp.path;
    keyFile = join(tmp.path, 'some-key');
    await writeFile(keyFile, 'not checked by loadConfig\n');
  });
  after(() => tmp?.cleanup());

  function config(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = emptyDir): Config {
    return runConfig(argv, env, cwd);
  }

  function rejects(argv: string[], env: NodeJS.ProcessEnv, ...patterns: RegExp[]): string {
    return rejectsConfig(argv, env, emptyDir, ...patterns);
  }

  async function iniFile(name: string, text: string): Promise<string> {
    const file = join(tmp.path, name);
    await writeFile(file, text);
    return file;
  }

  test('--port 0 (a free port, logged in the listening line) is accepted', () => {
    assert.equal(config(['--port', '0']).port, 0);
  });

  test('defaults in proxy mode', () => {
    const c = config([]);
    assert.equal(c.mode, 'proxy');
    assert.equal(c.port, 5022);
    assert.equal(c.redisDb, 1);
    assert.equal(c.upstreamHostkeys, 'tofu');
    assert.equal(c.connectTimeout, 10);
    assert.equal(c.loginGraceTime, 30);
    assert.equal(c.redisChannel, 'pysftpproxy:changes', 'the proxy channel carries user names');
  });

  test('local mode keeps solt\'s defaults: port 2200, store redis-solt, channel sftp_users', () => {
    const c = config(['--mode', 'local']);
    assert.equal(c.port, 2200);
    assert.equal(c.store, 'redis-solt');
    assert.equal(c.redisChannel, 'sftp_users');
    assert.equal(config(['--mode', 'local', '--redis-channel', 'mine']).redisChannel, 'mine');
  });

  test('INI [options] with original names: sftp_port, redis_dbindex; flag names too', async () => {
    const file = await iniFile('orig.ini', '[options]\nsftp_port = 2345\nredis_dbindex = 7\nconnect-timeout = 4\nupstream_hostkeys = strict\n');
    const c = config(['--config', file]);
    assert.equal(c.port, 2345);
    assert.equal(c.redisDb, 7);
    assert.equal(c.connectTimeout, 4);
    assert.equal(c.upstreamHostkeys, 'strict');
    const c2 = config([], { SFTPPROXY_CONFIG: file });
    assert.equal(c2.port, 2345, 'SFTPPROXY_CONFIG names the INI file too');
  });

  test('INI `port` key', async () => {
    const file = await iniFile('port.ini', '[options]\nport = 3456\n');
    assert.equal(config(['--config', file]).port, 3456);
  });

  test('precedence: INI < environment < flag', async () => {
    const file = await iniFile('prec.ini', '[options]\nport = 1111\nredis_dbindex = 3\n');
    assert.equal(config(['--config', file]).port, 1111);
    assert.equal(config(['--config', file], { SFTPPROXY_PORT: '2222' }).port, 2222);
    assert.equal(config(['--config', file, '--port', '3333'], { SFTPPROXY_PORT: '2222' }).port, 3333);
    assert.equal(config(['--config', file, '--port=4444'], { SFTPPROXY_PORT: '2222' }).port, 4444);
    // Options not overridden keep the INI value.
    assert.equal(config(['--config', file, '--port', '3333'], { SFTPPROXY_PORT: '2222' }).redisDb, 3);
  });

  test('.env in cwd is honoured, below the real environment', async () => {
    const dir = await makeTempDir('pysftpproxy-dotenv-');
    try {
      await writeFile(join(dir.path, '.env'), 'SFTPPROXY_PORT=5555\nSFTPPROXY_REDIS_DB=9\n');
      const c = config([], {}, dir.path);
      assert.equal(c.port, 5555);
      assert.equal(c.redisDb, 9);
      assert.equal(config([], { SFTPPROXY_PORT: '6666' }, dir.path).port, 6666);
      assert.equal(config(['--port', '7777'], { SFTPPROXY_PORT: '6666' }, dir.path).port, 7777);
      const ini = await iniFile('below-dotenv.ini', '[options]\nport = 1111\n');
      assert.equal(config(['--config', ini], {}, dir.path).port, 5555, '.env ranks above the INI file');
    } finally {
      await dir.cleanup();
    }
  });

  test('bad values name the option and what is expected', () => {
    rejects(['--port', 'abc'], {}, /--port/, /"abc"/, /TCP port number from 0 to 65535/);
    rejects([], { SFTPPROXY_PORT: '70000' }, /SFTPPROXY_PORT/, /70000/, /0 to 65535/);
    rejects(['--port', '-1'], {}, /--port/, /0 to 65535/);
    rejects(['--redis-port', '0'], {}, /--redis-port/, /1 to 65535/);
    rejects(['--upstream-hostkeys', 'maybe'], {}, /--upstream-hostkeys/, /maybe/, /tofu, strict, off/);
    rejects([], { SFTPPROXY_CONNECT_TIMEOUT: '0' }, /SFTPPROXY_CONNECT_TIMEOUT/, /seconds from 1 to 3600/);
    rejects(['--log-level', 'loud'], {}, /--log-level/, /one of fatal, error, warn, info, debug, trace, silent/);
    rejects(['--log-pretty=perhaps'], {}, /--log-pretty/, /true or false/);
    rejects(['--redis-db', '-1'], {}, /--redis-db/, /whole number/);
  });

  test('unknown flags, missing values, stray arguments', () => {
    rejects(['--bogus-flag'], {}, /unknown option --bogus-flag/, /--help/);
    rejects(['--port'], {}, /--port needs a value/);
    rejects(['serve'], {}, /unexpected argument "serve"/);
  });

  test('missing files are refused before start', () => {
    rejects(['--client-key-path', '/nonexistent'], {}, /--client-key-path \/nonexistent/, /no such file/);
    rejects(['--known-hosts', '/nonexistent/kh'], {}, /--known-hosts/, /no such file/);
    rejects(['--publickey-path', keyFile], {}, /--publickey-path/, /--privatekey-path/);
    rejects(['--config', '/nonexistent.ini'], {}, /--config \/nonexistent\.ini/, /cannot read/);
  });

  test('INI errors: unknown key, no [options] section, bad value names the key and the file', async () => {
    const unknown = await iniFile('unknown.ini', '[options]\nport = 2345\nredis_dbindex = 2\nsftp_port = 2346\nfrobnicate = yes\n');
    rejects(['--config', unknown], {}, /unknown option "frobnicate"/, /\[options\]/, new RegExp(unknown.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    const noSection = await iniFile('nosection.ini', 'port = 2345\n');
    rejects(['--config', noSection], {}, /no \[options\] section/);
    const bad = await iniFile('bad.ini', '[options]\nsftp_port = abc\n');
    rejects(['--config', bad], {}, /sftp_port/, /bad\.ini/, /"abc"/, /TCP port number/);
  });

  test('--help and --version win over everything else', () => {
    assert.deepEqual(loadConfig(['--port', 'abc', '--help'], {}, emptyDir), { kind: 'help' });
    assert.deepEqual(loadConfig(['-V'], {}, emptyDir), { kind: 'version' });
  });
});
