// End to end with the real OpenSSH client: `sftp -D "node stdio-server.js <root>" -b batch`
// runs our server on the client's socketpair, no SSH involved. Skipped when /usr/bin/sftp is
// missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { tempDir } from './harness.js';

const SFTP = '/usr/bin/sftp';
const SERVER = fileURLToPath(new URL('../../src/local/stdio-server.js', import.meta.url));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('OpenSSH sftp client against our server', { skip: !existsSync(SFTP) && 'no /usr/bin/sftp' }, () => {
  const tmp = tempDir('sftp-e2e-');
  const root = join(tmp.path, 'root');
  const local = join(tmp.path, 'local');
  const big = join(local, 'big.bin');

  /** Run one batch (lines) from `local` as working directory; -b stops at the first failure. */
  function sftp(lines: string[], env: Record<string, string> = {}): Promise<Run> {
    const batch = join(tmp.path, 'batch');
    writeFileSync(batch, `${lines.join('\n')}\n`);
    return new Promise((resolve) => {
      execFile(
        SFTP,
        ['-D', `${process.execPath} ${SERVER} ${root}`, '-b', batch],
        { cwd: local, timeout: 30_000, env: { ...process.env, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });
  }

  async function ok(lines: string[], env?: Record<string, string>): Promise<string> {
    const r = await sftp(lines, env);
    assert.equal(r.code, 0, `sftp failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  before(() => {
    mkdirSync(root);
    mkdirSync(local);
    writeFileSync(big, randomBytes(6 * 1024 * 1024 + 12345));
  });
  after(() => tmp.cleanup());

  it('put and get a multi-MB file byte-identical, and exits cleanly', async () => {
    await ok(['put big.bin up.bin', 'get up.bin down.bin']);
    assert.equal(sha(join(root, 'up.bin')), sha(big));
    assert.equal(sha(join(local, 'down.bin')), sha(big));
  });

  it('adapts to a small handle cap (the client reads limits@openssh.com)', async () => {
    await ok(['put big.bin capped.bin', 'get capped.bin capped-back.bin', 'ls -l'], { SFTP_MAX_HANDLES: '1' });
    assert.equal(sha(join(root, 'capped.bin')), sha(big));
    assert.equal(sha(join(local, 'capped-back.bin')), sha(big));
  });

  it('ls -l shows OpenSSH-style long listings', async () => {
    writeFileSync(join(root, 'small.txt'), 'x'.repeat(1234));
    const out = await ok(['ls -l']);
    assert.match(out, /^-rw-r--r-- {4}1 \d+ +\d+ +1234 \w{3} [ \d]\d +[\d:]+ small\.txt$/m);
  });

  it('mkdir, cd, pwd, rmdir', async () => {
    const out = await ok(['mkdir d1', 'cd d1', 'pwd', 'cd ..', 'rmdir d1', 'mkdir d2']);
    assert.match(out, /Remote working directory: \/d1$/m);
    assert.equal(existsSync(join(root, 'd1')), false);
    assert.equal(statSync(join(root, 'd2')).mode & 0o777, 0o755);
  });

  it('rename replaces an existing target (posix-rename is used)', async () => {
    writeFileSync(join(root, 'r1.txt'), 'one');
    writeFileSync(join(root, 'r2.txt'), 'two');
    await ok(['rename r1.txt r2.txt']);
    assert.equal(readFileSync(join(root, 'r2.txt'), 'utf8'), 'one');
    assert.equal(existsSync(join(root, 'r1.txt')), false);
  });

  it('df uses statvfs', async () => {
    const out = await ok(['df -h /']);
    assert.match(out, /Size\s+Used\s+Avail/);
  });

  it('ln (hardlink) and ln -s, chmod', async () => {
    writeFileSync(join(root, 'orig.txt'), 'data');
    await ok(['ln orig.txt hard.txt', 'ln -s orig.txt soft.txt', 'chmod 600 orig.txt']);
    assert.equal(statSync(join(root, 'hard.txt')).ino, statSync(join(root, 'orig.txt')).ino);
    assert.equal(readlinkSync(join(root, 'soft.txt')), 'orig.txt');
    assert.equal(statSync(join(root, 'orig.txt')).mode & 0o777, 0o600);
    const out = await ok(['get soft.txt via-link.txt']);
    assert.ok(out.includes('get soft.txt'));
    assert.equal(readFileSync(join(local, 'via-link.txt'), 'utf8'), 'data');
  });

  it('reput and reget resume partial transfers', async () => {
    const whole = readFileSync(big);
    writeFileSync(join(root, 'partial.bin'), whole.subarray(0, 2 * 1024 * 1024 + 7));
    await ok(['reput big.bin partial.bin']);
    assert.equal(sha(join(root, 'partial.bin')), sha(big));
    writeFileSync(join(root, 'full.bin'), whole);
    writeFileSync(join(local, 'part-local.bin'), whole.subarray(0, 3 * 1024 * 1024 + 1));
    await ok(['reget full.bin part-local.bin']);
    assert.equal(sha(join(local, 'part-local.bin')), sha(big));
  });

  it('cannot leave the folder even when asking explicitly', async () => {
    writeFileSync(join(tmp.path, 'outside.txt'), 'secret');
    const r = await sftp(['cd ..', 'pwd', 'get ../outside.txt stolen.txt']);
    assert.match(r.stdout, /Remote working directory: \/$/m);
    assert.notEqual(r.code, 0);
    assert.equal(existsSync(join(local, 'stolen.txt')), false);
  });

  it('reports missing files the way OpenSSH does', async () => {
    const r = await sftp(['get nope.bin']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found|No such file/);
  });
});
