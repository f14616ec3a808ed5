/**
 * GET /metrics in local mode (users file, no Redis): transfer_bytes counts file bytes exactly
 * (what READ returned and WRITE wrote, no SFTP framing), while sessions run and after they end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import {
  adminPort, localUserSetup, makeTempDir, parsePublicLine, productHostKeyLine, productKnownHosts, promtoolCheck, runSftp,
  scrape, scrapeUntil, sha256File, startProxy, writeRandomFile,
  type LocalUserSetup, type ProxyHandle, type Scrape, type TempDir,
} from '../harness/index.js';

const MiB = 1024 * 1024;
const up = (s: Scrape): number => s.value('pysftpproxy_transfer_bytes_total', { direction: 'up' });
const down = (s: Scrape): number => s.value('pysftpproxy_transfer_bytes_total', { direction: 'down' });

describe('metrics, local mode', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  let proxy: ProxyHandle;
  let admin: number;
  let knownHosts: string;

  before(async () => {
    tmp = await makeTempDir('ops-metrics-local-');
    setup = await localUserSetup(tmp.path);
    proxy = await startProxy({ args: [...setup.args, '--admin-listen', '127.0.0.1:0'] });
    admin = await adminPort(proxy);
    knownHosts = await productKnownHosts(tmp.path, setup.dataDir, proxy.port);
  });
  after(async () => { await proxy?.stop(); await tmp?.cleanup(); });

  const sftp = (batch: string[]) => runSftp({ port: proxy.port, user: setup.name, keyPath: setup.key.privatePath, knownHostsPath: knownHosts,
    batch, cwd: tmp.path });

  test('an upload and a download of 3 MiB move transfer_bytes by exactly 3 MiB each way; promtool passes', async () => {
    const file = join(tmp.path, 'three.bin');
    const sum = await writeRandomFile(file, 3 * MiB);
    const s0 = await scrape(admin);
    assert.equal((await sftp([`put ${file} three.bin`])).code, 0);
    assert.equal(await sha256File(join(setup.files, setup.name, 'three.bin')), sum);
    const s1 = await scrapeUntil(admin, (x) => up(x) - up(s0) >= 3 * MiB);
    assert.equal(up(s1) - up(s0), 3 * MiB);
    assert.equal(down(s1) - down(s0), 0);
    assert.equal((await sftp(['get three.bin three.back'])).code, 0);
    const s2 = await scrapeUntil(admin, (x) => down(x) - down(s1) >= 3 * MiB);
    assert.equal(down(s2) - down(s1), 3 * MiB);
    assert.equal(up(s2) - up(s1), 0);
    assert.equal(s2.value('pysftpproxy_store_up'), 1, 'a users file always answers');
    const lint = await promtoolCheck(s2.text);
    assert.equal(lint.code, 0, lint.output);
  });

  test('a session still open counts what it moved so far, and sessions_active follows it', async () => {
    const hostKey = Buffer.from(parsePublicLine(await productHostKeyLine(setup.dataDir)).blobBase64, 'base64');
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject).connect({ host: '127.0.0.1', port: proxy.port, username: setup.name,
        privateKey: readFileSync(setup.key.privatePath), hostVerifier: (k: Buffer) => k.equals(hostKey) });
    });
    try {
      const s0 = await scrape(admin);
      const sftpSession = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
      await new Promise<void>((resolve, reject) => sftpSession.writeFile('live.bin', Buffer.alloc(MiB, 1), (e) => (e ? reject(e) : resolve())));
      const s1 = await scrapeUntil(admin, (x) => up(x) - up(s0) >= MiB);
      assert.equal(up(s1) - up(s0), MiB);
      assert.equal(s1.value('pysftpproxy_sessions_active'), 1);
    } finally {
      client.end();
    }
    const s2 = await scrapeUntil(admin, (x) => x.value('pysftpproxy_sessions_active') === 0);
    assert.equal(s2.value('pysftpproxy_sessions_active'), 0);
  });
});
