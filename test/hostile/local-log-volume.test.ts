// Log volume is a resource too: a request refused for leading outside the folder was logged
// every time, so a client repeating it could write one log line per request for as long as it
// liked. Refusals are logged once per session and kind.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FX } from '../../src/sftp/protocol/constants.js';
import { memoryLogger, startSession, stopSession, tempDir } from '../sftp/harness.js';

describe('refusals a client repeats', () => {
  const tmp = tempDir('hostile-logs-');
  const root = join(tmp.path, 'root');
  before(() => {
    mkdirSync(root);
    symlinkSync('/etc', join(root, 'out'));
  });
  after(() => tmp.cleanup());

  it('are logged once per session, not once per request', async () => {
    const { log, lines } = memoryLogger('info');
    const outside = () => lines().filter((l) => l.msg === 'sftp path leads outside the folder: refused');
    for (let s = 0; s < 2; s++) {
      const t = await startSession(root, { log });
      try {
        const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? t.client.stat('out/passwd') : t.client.opendir('out'))));
        assert.ok(replies.every((r) => r.code === FX.PERMISSION_DENIED));
      } finally {
        await stopSession(t);
      }
      assert.equal(outside().length, s + 1, 'one line for each session');
    }
  });
});
