/**
 * Local mode with the solt store on Redis Sentinel: the master is killed with SIGKILL while the
 * server runs. During the failover logins are answered from the users in memory (local mode's
 * outage rule); afterwards the subscriber is on the new master, so a change published there
 * applies; a session opened before the kill keeps working.
 *
 *   npm run build && node --test dist/test/scale/sentinel-failover-local.test.js
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  generateKey, makeTempDir, openLiveSftp, productHostKeyLine, runSftp, startProxy, startSentinels, writeKnownHosts,
  type GeneratedKey, type LogLine, type ProxyHandle, type SentinelSetupHandle, type TempDir,
} from '../harness/index.js';

let tmp: TempDir;
let sentinels: SentinelSetupHandle;
let server: ProxyHandle;
let files: string;
let knownHosts: string;
let hostKeyLine: string;
const keys: Record<string, GeneratedKey> = {};

before(async () => {
  tmp = await makeTempDir('pysftpproxy-sentinel-local-');
  files = join(tmp.path, 'files');
  await mkdir(files);
  for (const name of ['dora', 'eve']) keys[name] = await generateKey(tmp.path, 'ed25519', name);
  // A failover slow enough that a login fits in between the kill and the new master.
  sentinels = await startSentinels({ downAfterMs: 2500 });
  const db = sentinels.client(1);
  for (const [id, name] of [['1', 'dora'], ['2', 'eve']] as const) {
    await db.hset(`solt.sftp.user.${id}`, { name, folder: name, active: 'true' });
    await db.sadd(`solt.sftp.user.${id}.keys`, keys[name]!.blobBase64);
    await db.sadd('solt.sftp.users', id);
  }
  await sentinels.replicated(db);

  const dataDir = join(tmp.path, 'data');
  server = await startProxy({
    cwd: tmp.path,
    args: ['--mode', 'local', '--sftp-path', files, '--port', '0', '--listen', '127.0.0.1', '--data-dir', dataDir,
      '--redis-sentinels', sentinels.sentinelList, '--redis-sentinel-name', sentinels.name,
      '--redis-sentinel-password', sentinels.sentinelPassword, '--redis-password', sentinels.password, '--redis-db', '1'],
    env: { SFTPPROXY_LOG_PRETTY: 'false', SFTPPROXY_LOG_LEVEL: 'debug' },
  });
  await server.waitForLog((l) => l.msg === 'users loaded');
  hostKeyLine = await productHostKeyLine(dataDir);
  knownHosts = await writeKnownHosts(join(tmp.path, 'known_hosts'), hostKeyLine, server.port);
});

after(async () => {
  await server?.stop();
  await sentinels?.close();
  await tmp?.cleanup();
});

function login(name: string, remote: string) {
  return runSftp({ port: server.port, user: name, keyPath: keys[name]!.privatePath, knownHostsPath: knownHosts,
    batch: [`put ${keys[name]!.publicPath} ${remote}`], cwd: tmp.path, timeoutMs: 20_000 });
}

test('the master is killed: logins served from memory meanwhile, and a change published on the new master applies', async () => {
  assert.equal((await login('eve', 'eve-before.pub')).code, 0, 'eve logs in before the failover');
  const live = await openLiveSftp({ port: server.port, user: 'dora', keyPath: keys['dora']!.privatePath, hostKeyLine });
  await live.writeFile('live-before.txt', 'before\n');

  const mark = server.logs().length;
  const oldMaster = await sentinels.killMaster();
  const during = await login('dora', 'during.pub');
  const stillOld = await sentinels.masterPort();
  assert.equal(during.code, 0, `a login during the failover was refused (local mode serves the last known users):\n${during.stderr}`);
  assert.equal(stillOld, oldMaster, 'the failover was over before the login: it did not test the outage');

  const newMaster = await sentinels.waitForNewMaster(oldMaster);
  const wait = (pred: (l: LogLine) => boolean) => server.waitForLog(pred, 15_000, mark);
  await wait((l) => l.msg === 'redis available again');
  // The subscriber's own connection found the new master and subscribed there.
  await wait((l) => l.msg === 'subscribed to user changes');
  assert.deepEqual(server.logs().slice(mark).filter((l) => l.msg === 'redis master changed').map((l) => l.to), [`127.0.0.1:${newMaster}`]);

  // Deactivate eve on the new master and announce it: only the subscription can deliver this
  // (a known name triggers no re-read). The reconnect reloads (one when the main connection is
  // ready, one once subscribed) may still be running: one that reads eve after the change takes
  // it in silently, and the notice then changes nothing. If a reload ran after the change, flip
  // eve back and try again: no reload is left by then.
  const db = sentinels.client(1);
  const announce = async (active: boolean): Promise<boolean> => {
    const published = server.logs().length;
    await db.hset('solt.sftp.user.2', 'active', active ? 'true' : 'false');
    assert.equal(await db.publish('sftp_users', '2'), 1, 'nobody is subscribed on the new master');
    try {
      await server.waitForLog((l) => l.msg === 'user updated' && l.id === '2' && l.active === active, 5_000, published);
      return true;
    } catch (err) {
      const reloaded = server.logs().slice(published).some((l) => l.msg === 'users loaded' && l.reason === 'redis reconnected');
      if (!reloaded) throw err;
      return false;
    }
  };
  let published = server.logs().length;
  for (let attempt = 1; !(await announce(false)); attempt++) {
    assert.ok(attempt < 3, 'a reconnect reload absorbed the change three times');
    assert.ok(await announce(true), 'eve made active again by a notice');
    published = server.logs().length;
  }
  const refused = await login('eve', 'eve-after.pub');
  assert.notEqual(refused.code, 0, 'eve, deactivated after the failover, still logs in');
  const line = await server.waitForLog((l) => l.msg === 'login refused' && l.user === 'eve', 10_000, published);
  assert.match(String(line.reason), /inactive/);

  assert.equal(live.closed, false, `the live session was closed: ${live.closeReason}`);
  await live.writeFile('live-after.txt', 'after\n');
  assert.equal(readFileSync(join(files, 'dora', 'live-after.txt'), 'utf8'), 'after\n');
  live.end();
  assert.equal(server.exited, false);
});
