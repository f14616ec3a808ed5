/**
 * The real command line (`node bin/pysftpproxy`): configuration mistakes exit
 * with code 2 and ONE line on stderr naming the option and what is expected
 * (no stack trace); --help lists every option of the table; --version; and the
 * precedence INI < environment < flag seen in the port the proxy listens on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OPTIONS } from '../../src/config/options.js';
import { freePort, generateKey, makeTempDir, REPO_ROOT, runCli, startProxy, type GeneratedKey, type TempDir } from '../harness/index.js';

describe('pysftpproxy command line', () => {
  let tmp: TempDir;
  let clientKey: GeneratedKey;

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-cli-');
    clientKey = await generateKey(tmp.path, 'ed25519', 'client_key');
  });
  after(() => tmp?.cleanup());

  /** Run the CLI in the temp dir (no stray .env), expect exit 2 and one clean stderr line. */
  async function configError(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<string> {
    const res = await runCli(args, env, { cwd: cwd ?? tmp.path });
    assert.equal(res.timedOut, false, `the CLI did not exit: ${res.stdout}${res.stderr}`);
    assert.equal(res.code, 2, `exit code for ${args.join(' ')} ${JSON.stringify(env)}:\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
    const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, `expected one stderr line, got:\n${res.stderr}`);
    assert.doesNotMatch(res.stderr, /^\s+at\s/m, 'stack trace on stderr');
    assert.doesNotMatch(res.stderr, /Error:|ConfigError/, 'error class name on stderr');
    assert.match(lines[0]!, /^pysftpproxy: /);
    return lines[0]!;
  }

  test('--port abc', async () => {
    const line = await configError(['--port', 'abc']);
    assert.match(line, /--port/);
    assert.match(line, /"abc"/);
    assert.match(line, /TCP port number from 0 to 65535/);
  });

  test('SFTPPROXY_PORT=70000', async () => {
    const line = await configError([], { SFTPPROXY_PORT: '70000' });
    assert.match(line, /SFTPPROXY_PORT/);
    assert.match(line, /70000/);
    assert.match(line, /TCP port number from 0 to 65535/);
  });

  test('--bogus-flag', async () => {
    const line = await configError(['--bogus-flag']);
    assert.match(line, /unknown option --bogus-flag/);
    assert.match(line, /--help/);
  });

  test('--client-key-path /nonexistent', async () => {
    const line = await configError(['--client-key-path', '/nonexistent']);
    assert.match(line, /--client-key-path \/nonexistent/);
    assert.match(line, /no such file/);
  });

  test('--client-key-path pointing at a public key (found at start-up, still one line)', async () => {
    const port = await freePort();
    const line = await configError(['--client-key-path', clientKey.publicPath, '--port', String(port),
      '--listen', '127.0.0.1', '--data-dir', join(tmp.path, 'data-pub'), '--redis-port', String(await freePort())]);
    assert.match(line, /client-key-path/);
    assert.match(line, /public key|not a usable SSH private key/);
  });

  test('--upstream-hostkeys maybe', async () => {
    const line = await configError(['--upstream-hostkeys', 'maybe']);
    assert.match(line, /--upstream-hostkeys/);
    assert.match(line, /maybe/);
    assert.match(line, /tofu, strict, off/);
  });

  test('--redis-url that is not a redis URL: one line, and never the password', async () => {
    for (const [url, wording] of [['127.0.0.1:6379', /is not a URL/], ['http://h:6379', /scheme http: is not valid/],
      ['redis://:hunter2@h:6379/abc', /the database must be a number/]] as const) {
      const line = await configError([], { SFTPPROXY_REDIS_URL: url });
      assert.match(line, /--redis-url/);
      assert.match(line, wording);
      assert.doesNotMatch(line, /hunter2/);
    }
  });

  test('INI file with an unknown key', async () => {
    const file = join(tmp.path, 'unknown.ini');
    await writeFile(file, '[options]\nport = 2345\nredis_dbindex = 2\nsftp_port = 2346\nno_such_option = 1\n');
    const line = await configError(['--config', file]);
    assert.match(line, /unknown option "no_such_option"/);
    assert.ok(line.includes(file), `the file is not named: ${line}`);
  });

  test('INI file with a bad sftp_port names the key and the file', async () => {
    const file = join(tmp.path, 'badport.ini');
    await writeFile(file, '[options]\nsftp_port = nope\n');
    const line = await configError(['--config', file]);
    assert.match(line, /sftp_port/);
    assert.ok(line.includes(file));
    assert.match(line, /TCP port number/);
  });

  test('.env in the working directory is read', async () => {
    const dir = await makeTempDir('pysftpproxy-cli-dotenv-');
    try {
      await writeFile(join(dir.path, '.env'), 'SFTPPROXY_PORT=99999\n');
      const line = await configError([], {}, dir.path);
      assert.match(line, /SFTPPROXY_PORT/);
      assert.match(line, /99999/);
    } finally {
      await dir.cleanup();
    }
  });

  test('--help lists every SFTPPROXY_ variable and flag of the option table', async () => {
    const res = await runCli(['--help'], {}, { cwd: tmp.path });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, '');
    for (const o of OPTIONS) {
      assert.ok(res.stdout.includes(o.env), `--help lacks ${o.env}`);
      assert.ok(res.stdout.includes(`--${o.flag}`), `--help lacks --${o.flag}`);
    }
    assert.ok(res.stdout.includes('SFTPPROXY_CONFIG'));
    assert.ok(OPTIONS.length >= 20, 'the option table looks truncated');
  });

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const res = await runCli([flag], {}, { cwd: tmp.path });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.trim(), `pysftpproxy ${pkg.version}`);
    }
  });

  test('precedence INI < environment < flag, seen in the port the proxy listens on', async () => {
    const [iniPort, envPort, flagPort] = [await freePort(), await freePort(), await freePort()];
    const file = join(tmp.path, 'prec.ini');
    await writeFile(file, `[options]\nsftp_port = ${iniPort}\n`);
    const env = {
      SFTPPROXY_LISTEN: '127.0.0.1',
      SFTPPROXY_CLIENT_KEY_PATH: clientKey.privatePath,
      SFTPPROXY_DATA_DIR: join(tmp.path, 'data'),
      SFTPPROXY_REDIS_PORT: String(await freePort()), // nothing there: the proxy starts anyway
      SFTPPROXY_LOG_PRETTY: 'false',
    };
    const cases: { args: string[]; env: Record<string, string>; expected: number }[] = [
      { args: ['--config', file], env, expected: iniPort },
      { args: ['--config', file], env: { ...env, SFTPPROXY_PORT: String(envPort) }, expected: envPort },
      { args: ['--config', file, '--port', String(flagPort)], env: { ...env, SFTPPROXY_PORT: String(envPort) }, expected: flagPort },
    ];
    for (const c of cases) {
      const proxy = await startProxy({ args: c.args, env: c.env, cwd: tmp.path });
      try {
        assert.equal(proxy.port, c.expected, `args ${c.args.join(' ')}, SFTPPROXY_PORT=${c.env.SFTPPROXY_PORT ?? '(unset)'}`);
      } finally {
        await proxy.stop();
      }
    }
  });
});
