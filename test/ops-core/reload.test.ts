/**
 * SIGHUP re-reads the config file (--config, INI) and the host key: the live options change for
 * what comes next (limits, defender settings, --permissions, idle timeout, log level), each named
 * in one log line, with the options that need a restart named as such; a config that does not
 * load, or a host key that does not, changes nothing and says why; a replaced host key is what
 * new connections see while a session already open goes on. Under --workers every worker reloads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { spawn } from 'node:child_process';
import {
  adminPort, generateKey, localUserSetup, makeTempDir, parsePublicLine, PROXY_BIN, proxyEnv, runSftp, scrapeUntil, startProxy, stopChild,
  trackChild, writeKnownHosts, type GeneratedKey, type LogLine, type ProxyHandle, type TempDir,
} from '../harness/index.js';
import { eventually } from '../proxy/stack.js';
import { offerKeys } from '../hostile/auth-client.js';
import { closed, openSftp, settlesWithin, sshLogin } from './clients.js';

interface Product {
  tmp: TempDir;
  proxy: ProxyHandle;
  admin: number;
  config: string;
  hostKeyPath: string;
  keys: Map<string, GeneratedKey>;
  folder(user: string): string;
}

const USERS = ['wanda', 'xena'];

async function hostBlob(key: GeneratedKey): Promise<Buffer> {
  return Buffer.from(parsePublicLine(await readFile(key.publicPath, 'utf8')).blobBase64, 'base64');
}

/** Local mode, users file; everything that reload tests change lives in the INI file, not on the command line. */
async function startProduct(ini: string, extraArgs: string[] = []): Promise<Product> {
  const tmp = await makeTempDir('ops-reload-');
  const keys = new Map<string, GeneratedKey>();
  const users: Record<string, unknown> = {};
  for (const u of USERS) {
    const k = await generateKey(tmp.path, 'ed25519', u);
    keys.set(u, k);
    users[u] = { keys: [k.publicLine], folder: u };
    await import('node:fs/promises').then((fs) => fs.mkdir(join(tmp.path, 'files', u), { recursive: true }));
  }
  await writeFile(join(tmp.path, 'users.json'), JSON.stringify({ users }));
  const host = await generateKey(tmp.path, 'ed25519', 'host_key');
  const config = join(tmp.path, 'pysftpproxy.ini');
  await writeFile(config, ini);
  const proxy = await startProxy({ args: ['--mode', 'local', '--store', `file:${join(tmp.path, 'users.json')}`, '--sftp-path', join(tmp.path, 'files'),
    '--port', '0', '--listen', '127.0.0.1', '--privatekey-path', host.privatePath, '--admin-listen', '127.0.0.1:0', '--config', config,
    ...extraArgs] });
  return { tmp, proxy, admin: await adminPort(proxy), config, hostKeyPath: host.privatePath, keys, folder: (u) => join(tmp.path, 'files', u) };
}

/** Send SIGHUP and resolve with the reload's log line (ok or not), one per process expected. */
async function reload(p: Product, ini: string | undefined, processes = 1): Promise<LogLine[]> {
  if (ini !== undefined) await writeFile(p.config, ini);
  const since = p.proxy.logs().length;
  process.kill(p.proxy.pid, 'SIGHUP');
  const isReload = (l: LogLine): boolean => typeof l.msg === 'string' && l.msg.startsWith('configuration ');
  await eventually(() => p.proxy.logs().slice(since).filter(isReload).length >= processes, 10_000);
  return p.proxy.logs().slice(since).filter(isReload);
}

describe('SIGHUP reload, one process', () => {
  let p: Product;
  let blob: Buffer;
  const open: ssh2.Client[] = [];
  before(async () => {
    p = await startProduct('[options]\nlog-level = info\nmax-sessions-per-user = 1\npermissions = *\nidle-timeout = 0\ndefender-threshold = 15\n');
    blob = await hostBlob({ publicPath: `${p.hostKeyPath}.pub` } as GeneratedKey);
  });
  after(async () => {
    for (const c of open) c.end();
    await p?.proxy.stop();
    await p?.tmp.cleanup();
  });

  const login = async (user: string, hostKey = blob): Promise<ssh2.Client> => {
    const c = await sshLogin({ port: p.proxy.port, user, keyPath: p.keys.get(user)!.privatePath, hostKey });
    open.push(c);
    return c;
  };
  /** End every client this suite opened, and wait until the server holds none. */
  const endAll = async (): Promise<void> => {
    for (const c of open.splice(0)) c.end();
    const s = await scrapeUntil(p.admin, (x) => x.value('pysftpproxy_connections_active', { state: 'authenticated' }) === 0);
    assert.equal(s.value('pysftpproxy_connections_active', { state: 'authenticated' }), 0);
  };
  const put = (sftp: ssh2.SFTPWrapper, name: string): Promise<Error | undefined> =>
    new Promise((resolve) => sftp.writeFile(name, 'x', (err) => resolve(err ?? undefined)));

  test('limits, defender, permissions and idle timeout change for what comes next, named in one line; a restart-only option is named', async () => {
    const before = await login('wanda');
    const beforeSftp = await openSftp(before);
    await assert.rejects(login('wanda'), /authentication methods failed/, 'one session each before the reload');

    const [line] = await reload(p, '[options]\nlog-level = info\nmax-sessions-per-user = 2\npermissions = read-only\nidle-timeout = 2\n' +
      'defender-threshold = 3\nmax-handles = 10\n');
    assert.equal(line!.msg, 'configuration reloaded; the options in needsRestart take effect at the next start');
    assert.deepEqual(line!['changed'], ['--max-sessions-per-user', '--idle-timeout', '--defender-threshold', '--permissions']);
    assert.deepEqual(line!['needsRestart'], ['--max-handles']);

    // The session from before keeps what it had and goes on; a new login gets the new default
    // (what the permissions allow is issue #10's; here: which ones a login is given).
    assert.equal(await put(beforeSftp, 'before.txt'), undefined, 'the session opened before the reload goes on');
    const since = p.proxy.logs().length;
    const second = await openSftp(await login('wanda'));
    const accepted = await p.proxy.waitForLog((l) => l.msg === 'login accepted' && l['user'] === 'wanda', 5000, since);
    assert.equal(accepted['permissions'], 'list,download', 'a new login gets --permissions read-only');
    await assert.rejects(login('wanda'), /authentication methods failed/, 'and the limit is 2 now');

    // The idle timeout (0 before) applies: a quiet session is closed about 2 s later.
    assert.ok(await settlesWithin(closed(second), 8000), 'an idle session is closed under the new --idle-timeout 2');

    // The defender bans at 3 now: one connection from 127.0.0.5 with an unknown user scores 1 + 2.
    const bans = (await scrapeUntil(p.admin, () => true)).value('pysftpproxy_bans_total');
    await offerKeys(p.proxy.port, 'nobody', [{ algo: 'ssh-ed25519', blob: Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'),
      Buffer.from([0, 0, 0, 32]), randomBytes(32)]) }], { localAddress: '127.0.0.5' });
    const s = await scrapeUntil(p.admin, (x) => x.value('pysftpproxy_bans_total') > bans);
    assert.equal(s.value('pysftpproxy_bans_total') - bans, 1, 'banned at the new threshold');
    await endAll();
  });

  test('the log level changes, and the line saying so is still logged', async () => {
    const [line] = await reload(p, '[options]\nlog-level = warn\nmax-sessions-per-user = 2\npermissions = read-only\nidle-timeout = 2\n' +
      'defender-threshold = 3\nmax-handles = 10\n');
    assert.deepEqual(line!['changed'], ['--log-level']);
    const since = p.proxy.logs().length;
    const c = await login('xena');
    c.end();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(p.proxy.logs().slice(since).filter((l) => l.msg === 'connection' || l.msg === 'login accepted').length, 0,
      'info lines are no longer logged at warn');
    const [back] = await reload(p, '[options]\nlog-level = info\nmax-sessions-per-user = 2\npermissions = read-only\nidle-timeout = 2\n' +
      'defender-threshold = 3\nmax-handles = 10\n');
    assert.deepEqual(back!['changed'], ['--log-level']);
    const again = p.proxy.logs().length;
    (await login('xena')).end();
    await p.proxy.waitForLog((l) => l.msg === 'login accepted' && l['user'] === 'xena', 5000, again);
  });

  test('a config that does not load keeps the running one and says why', async () => {
    const [line] = await reload(p, '[options]\nlog-level = info\nmax-sessions-per-user = many\n');
    assert.equal(line!.msg, 'configuration not reloaded: keeping the running one');
    assert.match(String(line!['problem']), /max-sessions-per-user/);
    await login('xena');
    await login('xena');
    await assert.rejects(login('xena'), /authentication methods failed/, 'the limit is still 2');
    await endAll();
  });

  test('a replaced host key is what new connections see; a session already open goes on; a broken one changes nothing', async () => {
    const old = await login('xena');
    const oldSftp = await openSftp(old);
    const fresh = await generateKey(p.tmp.path, 'ed25519', 'host_key_2');
    await copyFile(fresh.privatePath, `${p.hostKeyPath}.new`);
    await rename(`${p.hostKeyPath}.new`, p.hostKeyPath);
    const [line] = await reload(p, '[options]\nlog-level = info\nmax-sessions-per-user = 2\npermissions = read-only\nidle-timeout = 2\n' +
      'defender-threshold = 3\nmax-handles = 10\n');
    assert.deepEqual(line!['changed'], ['host key']);
    assert.equal(line!['hostKey'], fresh.fingerprint);

    await assert.rejects(login('wanda', blob), /host|verif/i, 'a new connection is shown the new key, not the old');
    const newBlob = await hostBlob(fresh);
    (await login('wanda', newBlob)).end();
    const known = await writeKnownHosts(join(p.tmp.path, 'known_hosts_new'), fresh.publicLine, p.proxy.port);
    const r = await runSftp({ port: p.proxy.port, user: 'wanda', keyPath: p.keys.get('wanda')!.privatePath, knownHostsPath: known, batch: ['ls'] });
    assert.equal(r.code, 0, `OpenSSH sees the new key: ${r.stderr}`);
    const listed = await new Promise<unknown>((resolve) => oldSftp.readdir('.', (err, list) => resolve(err ?? list)));
    assert.ok(Array.isArray(listed), `the session opened before goes on: ${String(listed)}`);

    // A broken key file (and a changed limit in the same reload): nothing changes.
    await writeFile(`${p.hostKeyPath}.bad`, 'not a key\n');
    await rename(`${p.hostKeyPath}.bad`, p.hostKeyPath);
    const [bad] = await reload(p, '[options]\nlog-level = info\nmax-sessions-per-user = 5\npermissions = read-only\nidle-timeout = 2\n' +
      'defender-threshold = 3\nmax-handles = 10\n');
    assert.equal(bad!.msg, 'configuration not reloaded: keeping the running one');
    (await login('wanda', newBlob)).end();
    await login('xena', newBlob); // xena has `old` open too: 2 in all
    await assert.rejects(login('xena', newBlob), /authentication methods failed/, 'the limit did not change to 5 either');
    await endAll();
  });
});

describe('SIGHUP reload under --workers 2', () => {
  let p: Product;
  let blob: Buffer;
  before(async () => {
    p = await startProduct('[options]\npermissions = *\n', ['--workers', '2']);
    const first = p.proxy.listeningLog['worker'];
    await p.proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] !== first, 15_000);
    blob = await hostBlob({ publicPath: `${p.hostKeyPath}.pub` } as GeneratedKey);
  });
  after(async () => {
    await p?.proxy.stop();
    await p?.tmp.cleanup();
  });

  test('every worker reloads: both log it, and logins on both get the new permissions', async () => {
    const lines = await reload(p, '[options]\npermissions = read-only\n', 2);
    assert.deepEqual(lines.map((l) => l['worker']).sort(), [1, 2]);
    for (const l of lines) assert.deepEqual(l['changed'], ['--permissions']);
    const since = p.proxy.logs().length;
    for (let i = 0; i < 2; i++) {
      (await sshLogin({ port: p.proxy.port, user: 'wanda', keyPath: p.keys.get('wanda')!.privatePath, hostKey: blob })).end();
    }
    await eventually(() => p.proxy.logs().slice(since).filter((l) => l.msg === 'login accepted').length === 2);
    const accepted = p.proxy.logs().slice(since).filter((l) => l.msg === 'login accepted');
    assert.deepEqual(accepted.map((l) => l['worker']).sort(), [1, 2], 'the two logins were on different workers');
    for (const l of accepted) assert.equal(l['permissions'], 'list,download', `worker ${String(l['worker'])} gave the new permissions`);
  });
});

describe('a SIGHUP while the server is still starting', () => {
  for (const workers of [1, 2]) {
    test(`--workers ${workers}: it does not end the process; it is a reload once the server serves`, async () => {
      const tmp = await makeTempDir('ops-reload-early-');
      try {
        const setup = await localUserSetup(tmp.path);
        const config = join(tmp.path, 'pysftpproxy.ini');
        await writeFile(config, '[options]\nmax-sessions-per-user = 3\n');
        const child = spawn(process.execPath, [PROXY_BIN, ...setup.args, '--config', config, '--workers', String(workers)],
          { env: proxyEnv({ SFTPPROXY_LOG_PRETTY: 'false' }), stdio: ['ignore', 'pipe', 'pipe'] });
        trackChild(child, 'proxy-early-hup');
        const lines: LogLine[] = [];
        let signalled = false;
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          for (const l of d.split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as LogLine);
          // The first line is the host key, logged as start() begins: the listener is not up yet.
          if (!signalled && lines.length > 0) {
            signalled = true;
            child.kill('SIGHUP');
          }
        });
        try {
          const reloaded = await eventually(() => lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration ')).length >= workers
            || child.exitCode !== null || child.signalCode !== null, 15_000);
          assert.ok(reloaded, 'no reload line within 15 s');
          assert.equal(child.signalCode, null, `the process was ended by ${child.signalCode}`);
          assert.equal(child.exitCode, null);
          const at = lines.findIndex((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration '));
          const listening = lines.findIndex((l) => l.msg === 'listening');
          assert.ok(listening >= 0 && listening < at, 'the reload came once the server listened');
          assert.equal(lines[at]!.msg, 'configuration reloaded');
          assert.equal(lines.filter((l) => l.msg === 'worker died: starting a new one').length, 0);
        } finally {
          assert.equal(await stopChild(child), 0);
        }
      } finally {
        await tmp.cleanup();
      }
    });
  }
});
