// A failure inside the inspector (a bug of ours) refuses the request it was judging, in both
// modes, and the session goes on: nothing runs unjudged, nothing takes the process down.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { SessionAudit } from '../../src/audit/session-audit.js';
import { ALL_PERMISSIONS } from '../../src/policy/permissions.js';
import { PolicyInspector } from '../../src/policy/sftp-inspector.js';
import { FX, FXP } from '../../src/sftp/protocol/constants.js';
import { memoryLogger, startSession, stopSession, tempDir } from '../sftp/harness.js';
import { filterRig, head, init, packets, req } from './filter-harness.js';

/** An inspector that fails on REMOVE and on every reply. */
function faulty(): PolicyInspector {
  const log = pino({ level: 'silent' });
  const inspector = new PolicyInspector({ permissions: () => ALL_PERMISSIONS, audit: new SessionAudit({ emit: () => undefined }, { user: 'u', remote: 'r' }, log), log });
  const request = inspector.request.bind(inspector);
  inspector.request = (h: Buffer, total: number) => {
    if (h[0] === FXP.REMOVE) throw new Error('inspector bug');
    return request(h, total);
  };
  inspector.reply = () => { throw new Error('inspector bug in a reply'); };
  return inspector;
}

test('local mode: the request is refused, the file stays, the session goes on, the bug is logged', async () => {
  const tmp = tempDir('policy-faulty-');
  writeFileSync(join(tmp.path, 'keep.txt'), 'x');
  const { log, lines } = memoryLogger();
  const t = await startSession(tmp.path, { inspector: faulty(), log });
  try {
    const r = await t.client.remove('keep.txt');
    assert.equal(r.code, FX.PERMISSION_DENIED);
    assert.ok(existsSync(join(tmp.path, 'keep.txt')));
    assert.equal((await t.client.stat('keep.txt')).type, FXP.ATTRS, 'the session still answers');
    assert.ok(lines().some((l) => String(l.msg).startsWith('bug: sftp inspection failed')));
    await stopSession(t);
  } finally {
    tmp.cleanup();
  }
});

test('proxy mode: the request is refused and not forwarded, replies still pass', async () => {
  const rig = filterRig('*');
  const f = faulty();
  rig.inspector.request = f.request;
  rig.inspector.reply = f.reply;
  rig.fromClient(Buffer.concat([init(), req(FXP.REMOVE, 5, (w) => w.string('keep.txt')), req(FXP.STAT, 6, (w) => w.string('keep.txt'))]));
  await rig.settle();
  assert.deepEqual(packets(rig.toUpstream()).map((p) => p[0]), [FXP.INIT, FXP.STAT]);
  const told = packets(rig.toClient());
  assert.deepEqual(told.map(head), [{ type: FXP.STATUS, id: 5 }]);
  assert.equal(told[0]!.readUInt32BE(5), FX.PERMISSION_DENIED);
});
