// Public-key requests that lie (a client that names one algorithm and signs with another), and
// DSA keys: refused, with the reason in the log. Driven with a real ssh2 client whose auth request is
// rewritten (as an attacker's client would send it) against the real proxy in local mode.
import assert from 'node:assert/strict';
import { sign, createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import ssh2 from 'ssh2';
import { localUserSetup, makeTempDir, productHostKeyLine, startProxy, type GeneratedKey, type ProxyHandle, type TempDir } from '../harness/index.js';

type AuthPK = (this: unknown, user: string, pub: unknown, algo?: string, sign?: (data: Buffer, cb: (sig: Buffer) => void) => void) => void;
const Protocol = createRequire(import.meta.url)('ssh2/lib/protocol/Protocol.js') as { prototype: { authPK: AuthPK } };

describe('forged public-key requests', () => {
  let tmp: TempDir;
  let rsa: GeneratedKey;
  let server: ProxyHandle;
  let hostBlob: Buffer;

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-forged-');
    const setup = await localUserSetup(tmp.path, 'mallory', 'rsa');
    rsa = setup.key;
    server = await startProxy({ args: setup.args });
    hostBlob = Buffer.from((await productHostKeyLine(setup.dataDir)).split(/\s+/)[1]!, 'base64');
  });
  after(async () => { await server?.stop(); await tmp?.cleanup(); });

  /** Log in as mallory with the RSA key, but send `claimedAlgo` and a SHA-1 signature. */
  async function forgedLogin(claimedAlgo: string): Promise<'accepted' | 'refused'> {
    const keyText = await readFile(rsa.privatePath);
    const privateKey = createPrivateKey((ssh2.utils.parseKey(keyText) as ssh2.ParsedKey).getPrivatePEM());
    const original = Protocol.prototype.authPK;
    Protocol.prototype.authPK = function (this: unknown, user, pub, algo, cbSign) {
      if (typeof algo === 'function') { cbSign = algo as never; algo = undefined; }
      if (!cbSign) return original.call(this, user, pub, claimedAlgo);
      return original.call(this, user, pub, claimedAlgo, (data, cb) => cb(sign('sha1', data, privateKey)));
    };
    try {
      return await new Promise((resolve) => {
        const c = new ssh2.Client();
        c.on('ready', () => { c.end(); resolve('accepted'); });
        c.on('error', () => resolve('refused'));
        c.connect({ host: '127.0.0.1', port: server.port, username: 'mallory', privateKey: keyText,
          hostVerifier: (key: Buffer) => key.equals(hostBlob), readyTimeout: 10_000 });
      });
    } finally {
      Protocol.prototype.authPK = original;
    }
  }

  for (const claimed of ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']) {
    test(`an RSA key presented as ${claimed} with a SHA-1 signature is refused`, async () => {
      const mark = server.logs().length;
      assert.equal(await forgedLogin(claimed), 'refused');
      const want = claimed === 'ssh-rsa' ? /SHA-1/ : /key algorithm mismatch: the request says .+, the key is ssh-rsa/;
      // The client may learn of the refusal before the proxy's log line has been read.
      await server.waitForLog((l) => l.msg === 'login refused' && want.test(String(l['reason'])), 5_000, mark);
      assert.ok(!server.logs().slice(mark).some((l) => l.msg === 'login accepted'));
    });
  }

  test('a DSA key, even registered, is refused', async () => {
    const dir = join(tmp.path, 'dsa');
    await mkdir(dir);
    const setup = await localUserSetup(dir, 'dsauser', 'dsa');
    const dsaServer = await startProxy({ args: setup.args });
    try {
      const keyText = await readFile(setup.key.privatePath);
      const outcome = await new Promise<'accepted' | 'refused'>((resolve) => {
        const c = new ssh2.Client();
        c.on('ready', () => { c.end(); resolve('accepted'); });
        c.on('error', () => resolve('refused'));
        c.connect({ host: '127.0.0.1', port: dsaServer.port, username: 'dsauser', privateKey: keyText, readyTimeout: 10_000,
          algorithms: { serverHostKey: ['ssh-ed25519'] } });
      });
      assert.equal(outcome, 'refused');
      await dsaServer.waitForLog((l) => l.msg === 'login refused' && /ssh-dss \(DSA\) keys refused/.test(String(l['reason'])), 5_000);
    } finally {
      await dsaServer.stop();
    }
  });
});
