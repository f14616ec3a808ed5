/**
 * The real-client compatibility matrix, against any Target (proxy mode: matrix-proxy.test.ts,
 * local mode: matrix-local.test.ts). For every driver and key type one scenario runs: upload 1 MiB,
 * list, download, rename, delete, mkdir, rmdir. Checked: the client's own result (exit status,
 * listing, the downloaded bytes) and the real disk under target.remoteDir.
 *
 * Expected refusals are asserted, not skipped: SHA-1 `ssh-rsa` signatures (curl/libssh2 1.10
 * with an RSA key, OpenSSH and paramiko forced to ssh-rsa), and a host key that does not match.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, knownHostsEntry, makeTempDir, sha256File, writeRandomFile, type LogLine, type TempDir } from '../harness/index.js';
import { DRIVERS, type Driver, type DriverRun, type RsaSigAlg, type ScenarioPaths } from './drivers/index.js';
import { CLIENT_KEY_TYPES, remotePath, type ClientKeyType, type Target } from './target.js';

export const UPLOAD_BYTES = 1024 * 1024;

interface Case {
  keyType: ClientKeyType;
  rsaSigAlg?: RsaSigAlg;
  /** 'pass': the whole scenario works; 'sha1-refused': the login is refused for its SHA-1 signature. */
  expect: 'pass' | 'sha1-refused';
}

/** The cases a driver runs: every key type, plus forced RSA signature algorithms where possible. */
export function casesFor(driver: Driver): Case[] {
  const cases: Case[] = CLIENT_KEY_TYPES.map((keyType) => ({
    keyType,
    // libssh2 1.10 (curl) signs RSA with ssh-rsa/SHA-1 only: refused, as OpenSSH >= 8.8 does.
    expect: driver.name === 'curl' && keyType === 'rsa' ? 'sha1-refused' : 'pass',
  }));
  if (driver.supportsRsaSigAlg) {
    cases.push({ keyType: 'rsa', rsaSigAlg: 'rsa-sha2-256', expect: 'pass' });
    cases.push({ keyType: 'rsa', rsaSigAlg: 'rsa-sha2-512', expect: 'pass' });
    cases.push({ keyType: 'rsa', rsaSigAlg: 'ssh-rsa', expect: 'sha1-refused' });
  }
  return cases;
}

/** How each client says it will not talk to a server whose host key it does not trust. */
const HOST_KEY_REFUSAL = /host key verification failed|host key not in manually configured list|did not match|does not match|key mismatch|mismatch sha256 fingerprint|not trusted|BadHostKey|REMOTE HOST IDENTIFICATION HAS CHANGED/i;

const NAME_IN_LISTING = (name: string): RegExp => new RegExp(`(^|[\\s/])${name.replace(/\./g, '\\.')}/?(\\s|$)`, 'm');

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A case directory on the target's disk with the files the scenario deletes, and local files. */
async function prepare(target: Target, localRoot: string, id: string): Promise<{ paths: ScenarioPaths; disk: Record<string, string>; workDir: string; uploadSha: string }> {
  const caseDir = join(target.remoteDir, id);
  await mkdir(caseDir);
  await writeFile(join(caseDir, 'delete-me.bin'), 'delete me\n');
  await mkdir(join(caseDir, 'rmdir-me.d'));
  const workDir = join(localRoot, id);
  await mkdir(workDir);
  const localUpload = join(workDir, 'src.bin');
  const uploadSha = await writeRandomFile(localUpload, UPLOAD_BYTES);
  const rel = (name: string): string => remotePath(target, `${id}/${name}`);
  const paths: ScenarioPaths = {
    dir: remotePath(target, id),
    upload: rel('up.bin'),
    renamed: rel('moved.bin'),
    deleteMe: rel('delete-me.bin'),
    mkdir: rel('made.d'),
    rmdir: rel('rmdir-me.d'),
    localUpload,
    localDownload: join(workDir, 'down.bin'),
  };
  const disk = {
    upload: join(caseDir, 'up.bin'),
    renamed: join(caseDir, 'moved.bin'),
    deleteMe: join(caseDir, 'delete-me.bin'),
    mkdir: join(caseDir, 'made.d'),
    rmdir: join(caseDir, 'rmdir-me.d'),
  };
  return { paths, disk, workDir, uploadSha };
}

/** The same target, but claiming another host key: clients must refuse to talk to it. */
function withWrongHostKey(target: Target, knownHostsPath: string, hostPublicKeyLine: string, hostKeyFingerprint: string): Target {
  return {
    name: target.name,
    host: target.host,
    port: target.port,
    user: target.user,
    keyFor: (type) => target.keyFor(type),
    knownHostsPath,
    hostKeyFingerprint,
    hostPublicKeyLine,
    remoteDir: target.remoteDir,
    remotePathPrefix: target.remotePathPrefix,
    logs: () => target.logs(),
    waitForLog: (predicate, timeoutMs, since) => target.waitForLog(predicate, timeoutMs, since),
  };
}

function logsSince(target: Target, index: number): LogLine[] {
  return target.logs().slice(index);
}

/**
 * Define the matrix suite for one kind of target. `start` builds the target (before all tests),
 * `close` tears it down.
 */
export function defineMatrix<T extends Target>(targetLabel: string, start: () => Promise<T>, close: (t: T) => Promise<void>): void {
  describe(`real SFTP clients against ${targetLabel}`, { concurrency: 1 }, () => {
    let target: T;
    let local: TempDir;
    let wrongKnownHosts = '';
    let wrongKeyLine = '';
    let wrongFingerprint = '';
    const versions = new Map<string, string>();
    const table: string[] = [];

    before(async () => {
      local = await makeTempDir('pysftpproxy-clients-');
      target = await start();
      // Some other ed25519 key, presented as if it were the target's host key.
      const other = await generateKey(local.path, 'ed25519', 'not_the_host_key');
      wrongKeyLine = other.publicLine;
      wrongFingerprint = other.fingerprint;
      wrongKnownHosts = join(local.path, 'wrong_known_hosts');
      await writeFile(wrongKnownHosts, `${knownHostsEntry(other.publicLine, target.port, target.host)}\n`);
    });

    after(async () => {
      if (table.length > 0) console.log(`client matrix (${targetLabel}): client | key | result | version\n${table.map((l) => `  ${l}`).join('\n')}`);
      if (target) await close(target);
      await local?.cleanup();
    });

    for (const driver of DRIVERS) {
      describe(driver.name, { concurrency: 1 }, () => {
        const versionOf = async (): Promise<string> => {
          let v = versions.get(driver.name);
          if (v === undefined) {
            v = await driver.version(); // rejects (test fails) when the client is not installed
            versions.set(driver.name, v);
          }
          return v;
        };

        test('is installed (version)', async (t) => {
          t.diagnostic(`${driver.name}: ${await versionOf()}`);
        });

        for (const c of casesFor(driver)) {
          const label = `${c.keyType}${c.rsaSigAlg ? ` forced to ${c.rsaSigAlg}` : ''}`;
          const title = c.expect === 'pass'
            ? `${label}: upload, list, download, rename, delete, mkdir, rmdir`
            : `${label}: login refused (SHA-1 ssh-rsa signature)`;
          test(title, { timeout: 120_000 }, async (t: TestContext) => {
            const version = await versionOf();
            const id = `${driver.name}-${c.keyType}${c.rsaSigAlg ? `-${c.rsaSigAlg}` : ''}`;
            const { paths, disk, workDir, uploadSha } = await prepare(target, local.path, id);
            const run: DriverRun = { target, keyType: c.keyType, rsaSigAlg: c.rsaSigAlg, workDir, paths };
            const logIndex = target.logs().length;
            const started = Date.now();
            const record = (result: string): void => {
              table.push(`${driver.name} | ${label} | ${result} | ${version}`);
              t.diagnostic(`${driver.name} | ${label} | ${result} | ${version} | ${Date.now() - started} ms`);
            };

            if (c.expect === 'sha1-refused') {
              const outcome = await driver.run(run).then(() => 'accepted', (err: Error) => err);
              if (outcome === 'accepted') {
                record('ACCEPTED (must be refused: SHA-1)');
                assert.fail(`${driver.name} with ${label} logged in and ran the scenario: SHA-1 ssh-rsa signatures must be refused`);
              }
              const key = target.keyFor(c.keyType).fingerprint;
              // The client can be done before the product's log line has been read: wait for it.
              await target.waitForLog((l) => l.msg === 'login refused' && l.key === key && /ssh-rsa \(SHA-1\)/.test(String(l.reason)),
                5_000, logIndex).catch(() => assert.fail(`expected a "login refused" log line for ${key} naming the SHA-1 ` +
                `signature; got:\n${JSON.stringify(logsSince(target, logIndex), null, 1)}`));
              assert.ok(!logsSince(target, logIndex).some((l) => l.msg === 'login accepted' && l.key === key), 'no login accepted for that key');
              assert.equal(await exists(disk.upload), false, 'nothing uploaded');
              assert.equal(await exists(disk.deleteMe), true, 'nothing deleted');
              record('REFUSED (as expected: SHA-1)');
              return;
            }

            let result;
            try {
              result = await driver.run(run);
            } catch (err) {
              const refusals = logsSince(target, logIndex).filter((l) => /refused|failed/.test(String(l.msg)));
              record('FAIL');
              throw new Error(`${(err as Error).message}\nproduct log lines with refused/failed:\n${JSON.stringify(refusals, null, 1)}`);
            }
            // What the client saw.
            assert.match(result.listing, NAME_IN_LISTING('up.bin'), `listing shows up.bin:\n${result.transcript}`);
            assert.match(result.listing, NAME_IN_LISTING('delete-me.bin'), 'listing shows the pre-existing file');
            assert.equal(await sha256File(paths.localDownload), uploadSha, 'download is byte-identical to the upload');
            // What is on the real disk.
            assert.equal(await exists(disk.upload), false, 'up.bin was renamed away');
            assert.equal(await sha256File(disk.renamed), uploadSha, 'moved.bin on disk holds the uploaded bytes');
            assert.equal((await stat(disk.renamed)).size, UPLOAD_BYTES);
            assert.equal(await exists(disk.deleteMe), false, 'delete-me.bin was deleted on disk');
            assert.equal((await stat(disk.mkdir)).isDirectory(), true, 'made.d exists on disk');
            assert.equal(await exists(disk.rmdir), false, 'rmdir-me.d was removed on disk');
            record('pass');
          });
        }

        test('refuses a server whose host key does not match', { timeout: 120_000 }, async () => {
          const id = `${driver.name}-wrong-host-key`;
          const { paths, disk, workDir } = await prepare(target, local.path, id);
          const liar = withWrongHostKey(target, wrongKnownHosts, wrongKeyLine, wrongFingerprint);
          const logIndex = target.logs().length;
          // Refused for the host key, not for anything else (a crash, a missing client...).
          await assert.rejects(driver.run({ target: liar, keyType: 'ed25519', workDir, paths }), (err: Error) => {
            assert.match(err.message, HOST_KEY_REFUSAL, `${driver.name} failed, but not over the host key:\n${err.message}`);
            return true;
          });
          assert.ok(!logsSince(target, logIndex).some((l) => l.msg === 'login accepted'), 'the client never logged in');
          assert.equal(await exists(disk.upload), false, 'nothing uploaded');
          assert.equal(await exists(disk.deleteMe), true, 'nothing deleted');
        });
      });
    }
  });
}
