// deploy/ kept true: the systemd unit (alone and with the port-22 drop-in) passes
// `systemd-analyze verify` without a warning and scores as well hardened in `systemd-analyze
// security`; it starts the real binary with real options; the INI it reads holds only valid
// options whose written paths the unit leaves writable; and the Sentinel settings match
// deploy/sentinel.conf (which the Sentinel failover tests run for real).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseCliArgs } from '../../src/config/cli-args.js';
import { readIniFile } from '../../src/config/ini-file.js';
import { OPTIONS, type OptionSpec } from '../../src/config/options.js';
import { parseValue } from '../../src/config/parse-value.js';
import type { HostPort } from '../../src/config/option-kinds.js';
import { execFileCollect, makeTempDir, REPO_ROOT, type TempDir } from '../harness/index.js';

const DEPLOY = path.join(REPO_ROOT, 'deploy');
const UNIT = path.join(DEPLOY, 'pysftpproxy.service');
const DROP_IN = path.join(DEPLOY, 'port-22.conf');
const INI = path.join(DEPLOY, 'pysftpproxy.ini');
/** Where the unit expects the code; the checks run against this checkout instead. */
const INSTALL_ROOT = '/opt/pysftpproxy';
const MAX_EXPOSURE = 2.5;

let tmp: TempDir;
before(async () => { tmp = await makeTempDir('pysftpproxy-deploy-'); });
after(() => tmp?.cleanup());

type Unit = Map<string, Map<string, string[]>>;

/** systemd's unit syntax as far as these files use it: sections, `Key=value` (repeatable), comments. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]!) ?? new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && section, `not a unit line: ${JSON.stringify(raw)}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!.trim()]);
  }
  return unit;
}

const service = (u: Unit, key: string): string[] => u.get('Service')?.get(key) ?? [];
const one = (u: Unit, key: string): string | undefined => service(u, key).at(-1);

/** A copy of the unit (and drop-in) pointing at this checkout, in a fresh directory. */
function installCopy(name: string, withDropIn: boolean): string {
  const dir = path.join(tmp.path, name);
  fs.mkdirSync(dir);
  const unit = path.join(dir, 'pysftpproxy.service');
  fs.writeFileSync(unit, fs.readFileSync(UNIT, 'utf8').replaceAll(INSTALL_ROOT, REPO_ROOT));
  if (withDropIn) {
    fs.mkdirSync(`${unit}.d`);
    fs.copyFileSync(DROP_IN, path.join(`${unit}.d`, 'port-22.conf'));
  }
  return unit;
}

for (const withDropIn of [false, true]) {
  const what = withDropIn ? 'the unit with the port-22 drop-in' : 'the unit';
  test(`systemd-analyze verify: ${what} loads without an error or a warning`, async () => {
    const unit = installCopy(withDropIn ? 'with-drop-in' : 'plain', withDropIn);
    const r = await execFileCollect('systemd-analyze', ['verify', unit], { cwd: path.dirname(unit), timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `systemd-analyze warned:\n${r.stderr}`);
  });

  test(`systemd-analyze security: ${what} is exposed ${MAX_EXPOSURE} or less`, async () => {
    const unit = installCopy(withDropIn ? 'security-drop-in' : 'security', withDropIn);
    const r = await execFileCollect('systemd-analyze', ['security', '--offline=true', unit], { cwd: path.dirname(unit), timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout);
    assert.ok(level, r.stdout);
    assert.ok(Number(level[1]) <= MAX_EXPOSURE, `exposure ${level[1]} > ${MAX_EXPOSURE}:\n${r.stdout}`);
  });
}

test('the unit: a dedicated user, no capabilities, no new privileges, a read-only system but its own directories', () => {
  const u = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  assert.equal(one(u, 'User'), 'pysftpproxy');
  assert.equal(one(u, 'Group'), 'pysftpproxy');
  for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'], ['CapabilityBoundingSet', ''], ['AmbientCapabilities', '']]) {
    assert.equal(one(u, key!), value, `${key}=`);
  }
  assert.equal(one(u, 'MemoryDenyWriteExecute'), undefined, 'MemoryDenyWriteExecute stops V8\'s JIT');

  const dropIn = parseUnit(fs.readFileSync(DROP_IN, 'utf8'));
  assert.deepEqual([one(dropIn, 'CapabilityBoundingSet'), one(dropIn, 'AmbientCapabilities')], ['CAP_NET_BIND_SERVICE', 'CAP_NET_BIND_SERVICE']);
  assert.deepEqual(service(dropIn, 'Environment'), ['SFTPPROXY_PORT=22']);

  // Every SFTPPROXY_ variable either file sets is a real option with a valid value.
  for (const assignment of [...service(u, 'Environment'), ...service(dropIn, 'Environment')]) {
    const [name, value] = assignment.split('=', 2) as [string, string];
    const spec = OPTIONS.find((o) => o.env === name);
    assert.ok(spec, `Environment=${assignment}: no such option`);
    parseValue(spec, value, name);
  }
});

test('ExecStart runs the real binary with real options, and --config names the INI shipped beside it', () => {
  const u = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  const [bin, ...args] = one(u, 'ExecStart')!.split(/\s+/);
  assert.equal(bin, `${INSTALL_ROOT}/bin/pysftpproxy`);
  const inCheckout = bin!.replace(INSTALL_ROOT, REPO_ROOT);
  fs.accessSync(inCheckout, fs.constants.X_OK);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).bin, { pysftpproxy: 'bin/pysftpproxy' });
  const cli = parseCliArgs(args);
  assert.equal(cli.configFile, '/etc/pysftpproxy/pysftpproxy.ini');
  assert.ok(fs.existsSync(path.join(DEPLOY, path.basename(cli.configFile!))));
  assert.equal(one(u, 'ConfigurationDirectory'), 'pysftpproxy', 'the unit makes /etc/pysftpproxy');
});

test('the INI: valid options, written paths writable under ProtectSystem=strict, Sentinel settings as in sentinel.conf', () => {
  const values = new Map<string, unknown>();
  for (const [spec, { value, source }] of readIniFile(INI)) values.set((spec as OptionSpec).key, parseValue(spec, value, source));

  const u = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  const writable = [
    ...service(u, 'StateDirectory').map((d) => `/var/lib/${d}`),
    ...service(u, 'LogsDirectory').map((d) => `/var/log/${d}`),
    ...service(u, 'RuntimeDirectory').map((d) => `/run/${d}`),
    ...service(u, 'ReadWritePaths'),
  ];
  const inside = (p: string) => writable.some((w) => p === w || p.startsWith(`${w}/`));
  assert.ok(values.has('dataDir'), 'the INI sets data_dir (the default is under ~, which ProtectHome hides)');
  for (const key of ['dataDir', 'logfile', 'pidfile', 'sftpPath'] as const) {
    const p = values.get(key);
    if (typeof p === 'string') assert.ok(inside(p), `${key} ${p} is not writable for the unit (writable: ${writable.join(', ')})`);
  }

  const sentinelConf = fs.readFileSync(path.join(DEPLOY, 'sentinel.conf'), 'utf8');
  const monitored = /^sentinel monitor (\S+) /m.exec(sentinelConf)?.[1];
  const sentinelPort = Number(/^port (\d+)$/m.exec(sentinelConf)?.[1]);
  assert.equal(values.get('redisSentinelName'), monitored);
  const sentinels = values.get('redisSentinels') as HostPort[];
  assert.equal(sentinels.length, 3, 'three sentinels: a majority survives the loss of one');
  assert.ok(sentinels.every((s) => s.port === sentinelPort), `sentinel ports ${JSON.stringify(sentinels)} vs sentinel.conf port ${sentinelPort}`);
  assert.equal(values.get('redisPassword'), undefined, 'passwords belong in secrets.env, not the INI');
});
