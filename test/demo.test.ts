// `npm run demo` on a machine with nothing else: the sftp line it prints is run as printed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { execFileCollect, makeTempDir, REPO_ROOT, stopChild, trackChild, type TempDir } from './harness/index.js';

let tmp: TempDir | undefined;
after(async () => { await tmp?.cleanup(); });

test('the demo prints an sftp command that logs in and serves demo/files/demo as /', async () => {
  tmp = await makeTempDir('demo-');
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/src/demo/demo.js')], {
    cwd: tmp.path, env: { PATH: process.env['PATH'], HOME: tmp.path, DEMO_PORT: '0', DEMO_LOG_JSON: '1' },
  });
  trackChild(child, 'demo');
  try {
    let out = '';
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sftp line in 15 s:\n${out}`)), 15_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /^\s+(sftp -P .*)$/m.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]!); }
      });
      child.on('exit', (code) => reject(new Error(`demo exited (${code}):\n${out}`)));
    });
    fs.writeFileSync(path.join(tmp.path, 'batch'), 'ls\nput batch uploaded.txt\nget README.txt readme-copy.txt\n');
    // The printed line, split as a shell would (it has no quoting), plus batch mode.
    const [cmd, ...args] = line.split(/\s+/);
    const r = await execFileCollect(cmd!, ['-b', 'batch', '-o', 'BatchMode=yes', ...args], { cwd: tmp.path, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /README\.txt/);
    assert.equal(fs.readFileSync(path.join(tmp.path, 'demo/files/demo/uploaded.txt'), 'utf8'), 'ls\nput batch uploaded.txt\nget README.txt readme-copy.txt\n');
    assert.match(fs.readFileSync(path.join(tmp.path, 'readme-copy.txt'), 'utf8'), /local mode/);
  } finally {
    await stopChild(child);
  }
});
