// --userid / --groupid: started as root, the process binds its port, then runs as the user with
// only that user's group: no uid 0, no gid 0, none of root's supplementary groups; all of that
// before it logs 'listening'.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { localUserSetup, makeTempDir, startProxy, type LocalUserSetup, type ProxyHandle, type TempDir } from '../harness/index.js';

function ids(pid: number): { uid: string; gid: string; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === 'nobody');

describe('--userid / --groupid', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  const running: ProxyHandle[] = [];

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-drop-');
    setup = await localUserSetup(tmp.path);
  });
  after(async () => { for (const p of running) await p.stop(); await tmp?.cleanup(); });

  const start = async (extra: string[]): Promise<ProxyHandle> => {
    const p = await startProxy({ args: [...setup.args, ...extra] });
    running.push(p);
    return p;
  };

  test('as root, --userid nobody: uid and gid are nobody\'s, and no other group is kept', async () => {
    assert.equal(process.getuid!(), 0, 'this test drives the privilege drop and needs root (CI runs as root)');
    assert.ok(nobody, 'a nobody user in /etc/passwd');
    const p = await start(['--userid', 'nobody']);
    // Dropped before the 'listening' line (startProxy waited for it), not some time after it.
    const msgs = p.logs().map((l) => l.msg);
    assert.ok(msgs.includes('privileges dropped') && msgs.indexOf('privileges dropped') < msgs.indexOf('listening'),
      `'privileges dropped' comes before 'listening': ${JSON.stringify(msgs)}`);
    const [, , uid, gid] = nobody!;
    assert.deepEqual(ids(p.pid), { uid: `${uid}\t${uid}\t${uid}\t${uid}`, gid: `${gid}\t${gid}\t${gid}\t${gid}`, groups: gid });
  });

  test('as root, --groupid alone: gid switched, supplementary groups gone, uid unchanged', async () => {
    const p = await start(['--groupid', '65534']);
    await p.waitForLog((l) => l.msg === 'privileges dropped', 5_000);
    const s = ids(p.pid);
    assert.equal(s.gid, '65534\t65534\t65534\t65534');
    assert.equal(s.groups, '65534');
    assert.match(s.uid, /^0\t/);
  });
});
