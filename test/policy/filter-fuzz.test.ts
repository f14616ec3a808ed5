// The SFTP filter under hostile traffic, through the real proxy: random and mutated requests from
// clients (to OpenSSH upstreams whose sftp-server runs as nobody), and random, mutated, misdirected
// replies from a hostile upstream (a real SSH server of the test's). The proxy must not crash or
// log a bug, must forward no request the user's permissions deny (the upstream's own log, what the
// hostile upstream received, the files on disk), and must free each session when it ends (its
// file descriptors, the upstream sessions, memory).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type ssh2 from 'ssh2';
import { descendants } from '../harness/index.js';
import { ATTR, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketReader } from '../../src/sftp/protocol/packet-reader.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { FuzzGen, rng } from '../sftp/fuzz-packets.js';
import { RawSftpClient } from '../sftp/raw-client.js';
import { connect, sftpChannel } from './clients.js';
import { snapshot } from './disk.js';
import { startFuzzUpstream, type FuzzUpstream } from './fuzz-upstream.js';
import { startTarget, type PolicyTarget, type PolicyUser } from './targets.js';
import { upstreamRequests, writesAmong } from './upstream-requests.js';

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(50);
  }
}

/**
 * Until every request is answered, the session ended, or no answer came for a while: sftp-server
 * answers no request of a type it does not know, and ends a session over one it cannot parse.
 */
async function settle(client: RawSftpClient): Promise<void> {
  let last = client.outstanding;
  let since = Date.now();
  while (client.outstanding > 0 && !client.ended && Date.now() - since < 150) {
    await sleep(20);
    if (client.outstanding !== last) {
      last = client.outstanding;
      since = Date.now();
    }
  }
}

/** A session of `n` fuzzed requests (after a few real opens, whose handles the fuzz reuses). */
async function fuzzSession(t: PolicyTarget, u: PolicyUser, seed: number, n: number): Promise<void> {
  const conn = await connect(t, u);
  try {
    const channel = await sftpChannel(conn);
    const client = await RawSftpClient.connect(channel);
    const gen = new FuzzGen(rng(seed));
    for (const [path, flags] of [['existing.txt', FXF.READ], [`new-${seed}.txt`, FXF.WRITE | FXF.CREAT]] as const) {
      const h = await client.open(path, flags);
      if (h.handle) gen.handles.push(h.handle);
    }
    const d = await client.opendir('.');
    if (d.handle) gen.handles.push(d.handle);
    for (let i = 0; i < n && !client.ended; i++) {
      const id = 100_000 + i;
      void client.requestRaw(id, gen.packet(id));
      if (i % 16 === 15) await settle(client);
    }
    await settle(client);
  } finally {
    conn.end();
  }
}

/** A session of raw fuzzed requests to the hostile upstream; replies are read as bytes, never trusted. */
async function hostileSession(t: PolicyTarget, u: PolicyUser, seed: number, n: number): Promise<void> {
  const conn: ssh2.Client = await connect(t, u);
  try {
    const channel = await sftpChannel(conn);
    let last = Date.now();
    let closed = false;
    channel.on('data', () => { last = Date.now(); });
    channel.on('close', () => { closed = true; });
    channel.on('error', () => undefined);
    channel.write(new PacketWriter(FXP.INIT).u32(3).finish());
    const gen = new FuzzGen(rng(seed));
    gen.handles.push(Buffer.alloc(4, 0), Buffer.alloc(20, 7));
    for (let i = 0; i < n && !closed; i++) {
      channel.write(gen.packet(1000 + i));
      if (i % 20 === 19) await sleep(5);
    }
    // Until the proxy or the upstream closes it, or nothing has come for a while.
    const deadline = Date.now() + 5000;
    while (!closed && Date.now() - last < 300 && Date.now() < deadline) await sleep(50);
  } finally {
    conn.end();
  }
}

/** What a request body asks for, in the words of the policy's permissions (an oracle of its own). */
function wants(body: Buffer): { type: number; name?: string; pflags?: number; attrFlags?: number } {
  const type = body[0]!;
  const r = new PacketReader(body, 5);
  try {
    if (type === FXP.OPEN) { r.bytes(); return { type, pflags: r.u32() }; }
    if (type === FXP.SETSTAT) { r.bytes(); return { type, attrFlags: r.u32() }; }
    if (type === FXP.FSETSTAT) { r.bytes(); return { type, attrFlags: r.u32() }; }
    if (type === FXP.EXTENDED) {
      const name = r.bytes().toString('latin1');
      if (name === 'lsetstat@openssh.com') { r.bytes(); return { type, name, attrFlags: r.u32() }; }
      return { type, name };
    }
  } catch {
    return { type, name: 'unreadable' };
  }
  return { type };
}

const WRITE_FLAGS = FXF.WRITE | FXF.APPEND | FXF.CREAT | FXF.TRUNC;

describe('filter fuzz through the real proxy', () => {
  let t: PolicyTarget;
  let hostile: FuzzUpstream;
  let before0: { fds: number; rss: number };
  const seeded: Record<string, Record<string, string>> = {};
  before(async () => {
    hostile = await startFuzzUpstream(42);
    const up = { port: hostile.port, hostKeyFingerprint: hostile.hostKeyFingerprint };
    t = await startTarget('proxy', {
      ro: { permissions: 'read-only', unprivileged: true },
      drop: { permissions: 'list,upload', unprivileged: true },
      all: { unprivileged: true },
      hro: { permissions: 'read-only', upstream: up },
      hdrop: { permissions: 'list,upload', upstream: up },
    });
    for (const name of ['ro', 'drop', 'all']) {
      const dir = t.user(name).dir;
      await writeFile(join(dir, 'existing.txt'), 'hello\n');
      await writeFile(join(dir, 'f.txt'), 'f\n');
      await mkdir(join(dir, 'dir'), { mode: 0o777 });
      seeded[name] = await snapshot(dir);
    }
    // One session each first, so what the proxy allocates once (JIT, pools) is not counted as a leak.
    await fuzzSession(t, t.user('ro'), 1, 20);
    await hostileSession(t, t.user('hro'), 1, 20);
    await until('the warm-up sessions ended', () => t.logs().filter((l) => l.msg === 'session end').length >= 2);
    await sleep(300);
    before0 = { fds: openFds(t.proxy.pid), rss: rssKiB(t.proxy.pid) };
  });
  after(() => t?.close().finally(() => hostile?.close()));

  test('random and mutated requests: nothing denied reaches an OpenSSH upstream, nothing on disk is replaced', async () => {
    for (let s = 0; s < 3; s++) {
      await Promise.all(['ro', 'drop', 'all'].map((name) => fuzzSession(t, t.user(name), 1000 + s * 10 + name.length, 150)));
    }
    // read-only: no write of any kind reached the upstream, and the disk is exactly as it was.
    const ro = t.user('ro');
    const roReqs = await upstreamRequests(ro);
    assert.ok(roReqs.length > 100, `the upstream saw ${roReqs.length} requests: is its log written?`);
    assert.deepEqual(writesAmong(roReqs), []);
    assert.deepEqual(await snapshot(ro.dir), seeded['ro']);
    // drop box: new files only. Every write-open carried CREAT and EXCL, nothing was removed,
    // renamed, linked or made a directory, no size or mode was set, nothing was read.
    const drop = t.user('drop');
    for (const x of await upstreamRequests(drop)) {
      if (x.name === 'open') {
        const flags = Number(/flags (\d+)/.exec(x.rest)?.[1]);
        assert.ok((flags & FXF.READ) === 0, `a drop box opened for reading: ${x.rest}`);
        if (flags & WRITE_FLAGS) assert.equal(flags & (FXF.CREAT | FXF.EXCL), FXF.CREAT | FXF.EXCL, `a write-open without CREAT|EXCL: ${x.rest}`);
      }
      assert.ok(!['remove', 'rmdir', 'mkdir', 'rename', 'posix-rename', 'symlink', 'hardlink', 'read'].includes(x.name),
        `a drop box request reached the upstream: ${x.name} ${x.rest}`);
    }
    const dropLog = await drop.requests!();
    assert.doesNotMatch(dropLog, /^set "[^"]*" (size|mode|owner)/m, 'a size, mode or owner was set');
    for (const [path, entry] of Object.entries(seeded['drop']!)) {
      const now = (await snapshot(drop.dir))[path];
      assert.equal(now?.replace(/ mtime=\S+/, ''), entry.replace(/ mtime=\S+/, ''), `${path} changed`);
    }
    assert.equal(await readFile(join(drop.dir, 'existing.txt'), 'utf8'), 'hello\n');
  });

  test('random, mutated and misdirected replies from a hostile upstream: no crash, no denied request forwarded', async () => {
    const from = hostile.received.length;
    for (let s = 0; s < 6; s++) {
      if (s === 0) hostile.breakFramingNext();
      await Promise.all([hostileSession(t, t.user('hro'), 2000 + s, 100), hostileSession(t, t.user('hdrop'), 3000 + s, 100)]);
    }
    assert.ok(t.logs().some((l) => l.msg === 'sftp session closed: the stream cannot be framed'), 'the bad frame closed its session');
    // Between them hro (read-only) and hdrop (list,upload) may list, download and upload new
    // files; neither may delete, rename, link, make directories, change modes or sizes, or
    // replace a file: none of that may have arrived, whatever the upstream answered.
    const got = hostile.received.slice(from).map(wants);
    assert.ok(got.length > 200, `the hostile upstream received only ${got.length} requests`);
    for (const w of got) {
      assert.ok(![FXP.REMOVE, FXP.MKDIR, FXP.RMDIR, FXP.RENAME, FXP.SYMLINK].includes(w.type as never), `type ${w.type} reached the upstream`);
      if (w.type === FXP.OPEN && w.pflags !== undefined && (w.pflags & WRITE_FLAGS) !== 0) {
        assert.equal(w.pflags & (FXF.CREAT | FXF.EXCL | FXF.READ), FXF.CREAT | FXF.EXCL, `OPEN flags ${w.pflags} reached the upstream`);
      }
      if (w.attrFlags !== undefined) {
        assert.equal(w.attrFlags & (ATTR.SIZE | ATTR.PERMISSIONS | ATTR.UIDGID), 0, `attributes ${w.attrFlags} were set upstream`);
      }
      assert.ok(!['posix-rename@openssh.com', 'hardlink@openssh.com', 'unreadable'].includes(w.name ?? ''), `${w.name} reached the upstream`);
    }
  });

  test('every session ended and was freed: descriptors, upstream sessions, memory', async (tc) => {
    await until('every hostile upstream session closed', () => hostile.open === 0);
    for (const name of ['ro', 'drop', 'all']) {
      const sshd = t.user(name).sshd!;
      await until(`no sftp-server left at ${name}'s upstream`, () => descendants(sshd.pid).length === 0);
    }
    await until(`the proxy's descriptors back to ${before0.fds}`, () => openFds(t.proxy.pid) <= before0.fds + 2);
    const ended = () => t.logs().filter((l) => l.msg === 'session end').length;
    const accepted = t.logs().filter((l) => l.msg === 'login accepted').length;
    // 'session end' is logged when the client's connection closes, which may follow its
    // upstream's close by a moment.
    await until('a session end line for every login', () => ended() === accepted);
    const rss = rssKiB(t.proxy.pid);
    tc.diagnostic(`proxy RSS ${Math.round(before0.rss / 1024)} MiB after the warm-up, ${Math.round(rss / 1024)} MiB after ${accepted} sessions; fds ${before0.fds} -> ${openFds(t.proxy.pid)}`);
    assert.ok(rss < before0.rss + 64 * 1024, `RSS grew from ${before0.rss} to ${rss} KiB`);
    assert.equal(t.proxy.exited, false);
    t.proxy.assertNoBugs();
  });
});
