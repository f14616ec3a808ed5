// --ciphers / SFTPPROXY_CIPHERS: what the SSH server offers is what a real OpenSSH client can
// negotiate; a cipher left out is refused at the handshake; a bad name stops the start.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { localUserSetup, makeTempDir, productKnownHosts, runCli, runSftp, startProxy, type LocalUserSetup, type ProxyHandle, type TempDir } from '../harness/index.js';

describe('--ciphers', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  let server: ProxyHandle;
  let knownHosts: string;

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-ciphers-');
    setup = await localUserSetup(tmp.path);
    server = await startProxy({ args: setup.args, env: { SFTPPROXY_CIPHERS: 'aes256-gcm@openssh.com, aes128-ctr' } });
    knownHosts = await productKnownHosts(tmp.path, setup.dataDir, server.port);
  });
  after(async () => { await server?.stop(); await tmp?.cleanup(); });

  const sftp = (extraArgs: string[]) =>
    runSftp({ port: server.port, user: setup.name, keyPath: setup.key.privatePath, knownHostsPath: knownHosts, batch: ['pwd'], extraArgs });
  const negotiated = (stderr: string) => /kex: server->client cipher: (\S+)/.exec(stderr)?.[1];

  test('client defaults (chacha20 first) get the first offered cipher the client also has', async () => {
    const r = await sftp(['-v']);
    assert.equal(r.code, 0, r.stderr);
    // OpenSSH prefers chacha20, aes128-ctr, ..., aes128-gcm, aes256-gcm: of the two offered, aes128-ctr.
    assert.equal(negotiated(r.stderr), 'aes128-ctr');
  });

  test('a client limited to an offered cipher gets it', async () => {
    const r = await sftp(['-v', '-c', 'aes256-gcm@openssh.com']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(negotiated(r.stderr), 'aes256-gcm@openssh.com');
  });

  test('a client limited to a cipher left out cannot connect', async () => {
    const r = await sftp(['-c', 'chacha20-poly1305@openssh.com']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no matching cipher/);
    assert.equal((await sftp([])).code, 0, 'still serving');
  });

  test('an unknown cipher name stops the start with one line naming the option', async () => {
    const r = await runCli(['--ciphers', 'aes128-gcm@openssh.com,rot13'], {}, { cwd: tmp.path });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^pysftpproxy: --ciphers="aes128-gcm@openssh.com,rot13" is not valid: .*\(unknown: rot13\)\n$/);
  });
});
