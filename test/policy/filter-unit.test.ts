// The proxy's SFTP filter in-process, with the real inspector and audit: what reaches the upstream,
// what the client is told, in which order, and what it costs us to hold.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ATTR, FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketReader } from '../../src/sftp/protocol/packet-reader.js';
import { dataReply, filterRig, handleReply, head, init, packets, req, status, version } from './filter-harness.js';
import { rng } from '../sftp/fuzz-packets.js';

/** `bytes` cut into pieces of random sizes (1 byte to `max`). */
function chop(bytes: Buffer, seed: number, max: number): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + Math.floor(r() * max);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

test('with every permission, requests and replies pass as the same bytes however they are chunked', async () => {
  const data = randomBytes(40_000);
  const requests = Buffer.concat([
    init(),
    req(FXP.OPEN, 1, (w) => w.string('up.bin').u32(FXF.WRITE | FXF.CREAT | FXF.TRUNC).u32(0)),
    req(FXP.WRITE, 2, (w) => w.string(Buffer.from([0, 0, 0, 1])).u64(0).string(data)),
    req(FXP.READ, 3, (w) => w.string(Buffer.from([0, 0, 0, 1])).u64(0).u32(32768)),
    req(FXP.STAT, 4, (w) => w.string('x'.repeat(3000))),
    req(FXP.EXTENDED, 5, (w) => w.string('posix-rename@openssh.com').string('a').string('b')),
    req(FXP.CLOSE, 6, (w) => w.string(Buffer.from([0, 0, 0, 1]))),
  ]);
  const replies = Buffer.concat([version(), handleReply(1, Buffer.from([0, 0, 0, 1])), status(2, FX.OK), dataReply(3, data), status(4, FX.NO_SUCH_FILE), status(5, FX.OK), status(6, FX.OK)]);
  for (const [seed, max] of [[1, 1], [2, 7], [3, 300], [4, 70_000]] as const) {
    const rig = filterRig('*');
    for (const c of chop(requests, seed, max)) rig.fromClient(c);
    for (const c of chop(replies, seed + 10, max)) rig.fromUpstream(c);
    await rig.settle();
    assert.ok(rig.toUpstream().equals(requests), `requests changed (chunks up to ${max})`);
    assert.ok(rig.toClient().equals(replies), `replies changed (chunks up to ${max})`);
    assert.deepEqual(rig.broken, []);
  }
});

test('a probe goes to the upstream after the requests that came before it, even in the same chunk', async () => {
  // A drop box: an upload needs a probe (does up.bin exist?). The STAT before it is sent first.
  const rig = filterRig('list,upload');
  const open = req(FXP.OPEN, 2, (w) => w.string('up.bin').u32(FXF.WRITE | FXF.CREAT | FXF.TRUNC).u32(ATTR.PERMISSIONS).u32(0o640));
  rig.fromClient(Buffer.concat([init(), req(FXP.STAT, 1, (w) => w.string('a')), open]));
  await rig.settle();
  const sent = packets(rig.toUpstream());
  assert.deepEqual(sent.map((p) => p[0]), [FXP.INIT, FXP.STAT, FXP.LSTAT], 'INIT, the STAT, then the probe');
  const probeId = head(sent[2]!).id;
  assert.notEqual(probeId, 1);
  assert.notEqual(probeId, 2);
  // The upstream: the probe's path is not there.
  rig.fromUpstream(Buffer.concat([version(), status(1, FX.OK), status(probeId, FX.NO_SUCH_FILE)]));
  await rig.settle();
  const after = packets(rig.toUpstream()).slice(3);
  assert.equal(after.length, 1);
  const o = new PacketReader(after[0]!, 5);
  assert.equal(o.bytes().toString(), 'up.bin');
  assert.equal(o.u32(), FXF.WRITE | FXF.CREAT | FXF.TRUNC | FXF.EXCL, 'forwarded with EXCL: a file made meanwhile is not replaced');
  assert.ok(after[0]!.subarray(after[0]!.length - 8).equals(open.subarray(open.length - 8)), 'the attributes are untouched');
  const told = packets(rig.toClient());
  assert.deepEqual(told.map((p) => head(p).type === FXP.VERSION ? 'version' : head(p).id), ['version', 1], 'the probe\'s reply never reaches the client');
});

test('a drop box: the probe finds the file, the OPEN is denied and never sent', async () => {
  const rig = filterRig('list,upload');
  rig.fromClient(Buffer.concat([init(), req(FXP.OPEN, 7, (w) => w.string('there.txt').u32(FXF.WRITE | FXF.CREAT | FXF.TRUNC).u32(0))]));
  await rig.settle();
  const probe = packets(rig.toUpstream())[1]!;
  assert.equal(probe[0], FXP.LSTAT);
  rig.fromUpstream(Buffer.concat([version(), new Uint8Array([0, 0, 0, 9, FXP.ATTRS, ...[probe[1]!, probe[2]!, probe[3]!, probe[4]!], 0, 0, 0, 0])]));
  await rig.settle();
  assert.equal(packets(rig.toUpstream()).length, 2, 'nothing after the probe');
  const told = packets(rig.toClient()).slice(1);
  assert.deepEqual(told.map(head), [{ type: FXP.STATUS, id: 7 }]);
  assert.equal(told[0]!.readUInt32BE(5), FX.PERMISSION_DENIED);
  assert.deepEqual(rig.events.map((e) => [e.event, e.request, e.missing, e.path]), [['denied', 'open', 'overwrite', 'there.txt']]);
});

test('a drop box: an OPEN for writing without CREAT of a missing file is answered NO_SUCH_FILE, never sent', async () => {
  // Sent after the probe, it could open (and truncate) a file created meanwhile.
  const rig = filterRig('list,upload');
  rig.fromClient(Buffer.concat([init(), req(FXP.OPEN, 3, (w) => w.string('f').u32(FXF.WRITE | FXF.TRUNC).u32(0))]));
  await rig.settle();
  const probe = packets(rig.toUpstream())[1]!;
  rig.fromUpstream(Buffer.concat([version(), status(head(probe).id, FX.NO_SUCH_FILE)]));
  await rig.settle();
  assert.equal(packets(rig.toUpstream()).length, 2, 'the OPEN is not sent');
  const told = packets(rig.toClient()).slice(1);
  assert.deepEqual(told.map(head), [{ type: FXP.STATUS, id: 3 }]);
  assert.equal(told[0]!.readUInt32BE(5), FX.NO_SUCH_FILE);
  assert.deepEqual(rig.events.map((e) => [e.event, e.ok, e.status]), [['upload', false, FX.NO_SUCH_FILE]]);
});

test('a session that does not start with INIT gets no request past the filter', async () => {
  const rig = filterRig('read-only');
  rig.fromClient(req(FXP.REMOVE, 1, (w) => w.string('victim')));
  await rig.settle();
  assert.equal(rig.toUpstream().length, 0, 'the REMOVE reached the upstream');
  const told = packets(rig.toClient());
  assert.deepEqual(told.map(head), [{ type: FXP.STATUS, id: 1 }]);
  assert.equal(told[0]!.readUInt32BE(5), FX.PERMISSION_DENIED);
});

test('a malformed request is refused for a restricted user and passed for one with every permission', async () => {
  // REMOVE whose path length runs past the packet: our decoder cannot read it.
  const bad = Buffer.from([0, 0, 0, 9, FXP.REMOVE, 0, 0, 0, 5, 0, 0, 1, 0]);
  const ro = filterRig('list,upload');
  ro.fromClient(Buffer.concat([init(), bad]));
  await ro.settle();
  assert.deepEqual(packets(ro.toUpstream()).map((p) => p[0]), [FXP.INIT], 'the malformed REMOVE was forwarded');
  assert.equal(packets(ro.toClient())[0]!.readUInt32BE(5), FX.PERMISSION_DENIED);
  assert.equal(ro.events[0]?.event, 'denied');
  const all = filterRig('*');
  all.fromClient(Buffer.concat([init(), bad]));
  await all.settle();
  assert.ok(all.toUpstream().equals(Buffer.concat([init(), bad])));
});

test('a WRITE that claims more data than it carries counts what it carries', async () => {
  const rig = filterRig('*');
  const h = Buffer.from([0, 0, 0, 1]);
  const lying = req(FXP.WRITE, 2, (w) => w.string(h).u64(0).u32(1_000_000).u8(1).u8(2).u8(3));
  rig.fromClient(Buffer.concat([init(), req(FXP.OPEN, 1, (w) => w.string('f').u32(FXF.WRITE | FXF.CREAT).u32(0))]));
  rig.fromUpstream(Buffer.concat([version(), handleReply(1, h)]));
  rig.fromClient(Buffer.concat([lying, req(FXP.CLOSE, 3, (w) => w.string(h))]));
  rig.fromUpstream(Buffer.concat([status(2, FX.OK), status(3, FX.OK)]));
  await rig.settle();
  assert.equal(rig.inspector.fileBytes.up, 3);
  assert.equal(rig.events[0]?.bytes, 3);
});

test('denials wait for a client that does not read them: what we hold stays bounded', async () => {
  const rig = filterRig('read-only', { readClient: false });
  rig.fromClient(init());
  const n = 40_000; // ~0.6 MiB of REMOVEs, each denied with a ~30-byte STATUS of ours
  for (let i = 1; i <= n; i++) rig.fromClient(req(FXP.REMOVE, i, (w) => w.string('f')));
  await rig.settle();
  await rig.settle();
  // The rest waits unread in the filter's input (in the proxy: the client's channel is paused, the
  // SSH window stops the client), not as replies of ours.
  assert.ok(rig.filter.down.backlog < 300 * 1024, `replies held for the client: ${rig.filter.down.backlog} bytes`);
  assert.ok(rig.filter.up.writableLength > 0, 'the client\'s requests were not held back');
  // The client reads now: every request gets its answer, in order.
  rig.readClient();
  const deadline = Date.now() + 10_000;
  while (packets(rig.toClient()).length < n && Date.now() < deadline) await rig.settle();
  const told = packets(rig.toClient());
  assert.equal(told.length, n);
  assert.deepEqual(told.slice(0, 3).map((p) => head(p).id), [1, 2, 3]);
  assert.equal(head(told[n - 1]!).id, n);
  assert.equal(packets(rig.toUpstream()).length, 1, 'only INIT reached the upstream');
});
