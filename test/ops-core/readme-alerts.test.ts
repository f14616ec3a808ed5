/**
 * README's Operations section stays true: its alert rules pass `promtool check rules`, every
 * pysftpproxy_* metric a live scrape declares is in its metrics table, and every metric the
 * table and the alerts name exists.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  adminPort, execFileCollect, localUserSetup, makeTempDir, REPO_ROOT, scrape, startProxy, type ProxyHandle, type Scrape, type TempDir,
} from '../harness/index.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no ${heading}`);
  const next = readme.slice(start + heading.length + 2).search(/\n##+ /);
  return readme.slice(start, next < 0 ? undefined : start + heading.length + 2 + next);
}

/** Names a scrape has for `family` (a histogram's series carry suffixes). */
function declared(s: Scrape, name: string): boolean {
  return s.has(name) || ['_bucket', '_sum', '_count'].some((suffix) => name.endsWith(suffix) && s.has(name.slice(0, -suffix.length)));
}

describe('README Operations section', () => {
  let tmp: TempDir;
  let proxy: ProxyHandle;
  let live: Scrape;
  before(async () => {
    tmp = await makeTempDir('ops-readme-');
    const setup = await localUserSetup(tmp.path);
    proxy = await startProxy({ args: [...setup.args, '--admin-listen', '127.0.0.1:0'] });
    live = await scrape(await adminPort(proxy));
  });
  after(async () => { await proxy?.stop(); await tmp?.cleanup(); });

  test('the alert examples pass promtool check rules and name only metrics that exist', async () => {
    const alerts = section('### Alerts');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(alerts)?.[1];
    assert.ok(yaml, 'a yaml block under ### Alerts');
    const file = join(tmp.path, 'rules.yml');
    await writeFile(file, yaml);
    const r = await execFileCollect('promtool', ['check', 'rules', file], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const names = new Set([...yaml.matchAll(/\b((?:pysftpproxy|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!));
    for (const n of names) assert.ok(declared(live, n), `the alerts use ${n}, which the server does not export`);
  });

  test('the metrics table lists exactly the pysftpproxy_* metrics a live scrape declares', () => {
    const table = section('### Metrics');
    const documented = new Set([...table.matchAll(/^\| `(pysftpproxy_[a-z0-9_]+)`/gm)].map((m) => m[1]!));
    const exported = new Set([...live.text.matchAll(/^# TYPE (pysftpproxy_[a-z0-9_]+) /gm)].map((m) => m[1]!));
    assert.deepEqual([...documented].sort(), [...exported].sort());
    for (const name of exported) {
      const row = table.split('\n').find((l) => l.startsWith(`| \`${name}\``))!;
      assert.equal(row.split('|')[2]!.trim(), live.type(name), `the type of ${name} in the table`);
    }
  });
});
