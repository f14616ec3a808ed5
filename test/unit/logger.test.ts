// The readable log format (--log-pretty) prints client-supplied values: they must not be able
// to forge lines. The JSON format escapes by construction.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.js';

for (const logPretty of [true, false]) {
  test(`${logPretty ? 'pretty' : 'JSON'} lines: a user name with a newline stays on its line`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'pysftpproxy-log-'));
    try {
      const logfile = join(dir, 'log');
      const log = createLogger({ logLevel: 'info', logPretty, logfile });
      log.info({ user: 'eve\n2026-12-01T00:00:00.000Z INFO login accepted user=root', plain: 'alice' }, 'login refused');
      const lines = readFileSync(logfile, 'utf8').split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, lines.join('\n'));
      if (logPretty) {
        assert.match(lines[0]!, / INFO login refused user="eve\\n2026.*" plain=alice$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
