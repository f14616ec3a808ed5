/**
 * HAProxy health checks sent to the SSH port itself, through the PROXY protocol
 * (`check-send-proxy` with `tcp-check expect string SSH-2.0`): HAProxy opens a connection with a v2
 * LOCAL header (its own connection, no client behind it), reads the banner and hangs up. Such a
 * connection never logs in; scored like a client's, it got the balancer's own address banned after
 * --defender-threshold checks, its next checks failed and HAProxy took the instance out: one
 * misconfigured threshold away from an outage. The balancers of --proxy-protocol-from are never
 * banned; the clients they speak for are scored by their own addresses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startHaproxy, type HaproxyHandle } from '../harness/haproxy.js';
import { freePort, localUserSetup, makeTempDir, startProxy, type LocalUserSetup, type ProxyHandle, type TempDir } from '../harness/index.js';
import { loginWithPrefix, probe } from './edge-client.js';

let tmp: TempDir;
let setup: LocalUserSetup;
let proxy: ProxyHandle;
let haproxy: HaproxyHandle;
let front: number;

before(async () => {
  tmp = await makeTempDir('haproxy-checks-');
  setup = await localUserSetup(tmp.path);
  // The harness exempts 127.0.0.1 from the defender; HAProxy connects from it, so that is undone here.
  proxy = await startProxy({ args: [...setup.args, '--proxy-protocol-from', '127.0.0.1', '--defender-threshold', '3', '--defender-allow', '192.0.2.1'] });
  front = await freePort();
  haproxy = await startHaproxy(tmp.path, [
    'global',
    `    pidfile ${tmp.path}/haproxy.pid`,
    `    stats socket ${tmp.path}/haproxy.sock mode 600 level admin`,
    'defaults',
    '    mode tcp',
    '    timeout connect 2s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout check 2s',
    'frontend sftp',
    `    bind 127.0.0.1:${front}`,
    '    default_backend pysftpproxy',
    'backend pysftpproxy',
    '    option tcp-check',
    '    tcp-check expect string SSH-2.0-',
    `    server sftp1 127.0.0.1:${proxy.port} send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 1`,
    '',
  ].join('\n'));
});

after(async () => {
  await haproxy?.stop();
  await proxy?.stop();
  await tmp?.cleanup();
});

test('health checks through PROXY (v2 LOCAL) on the SSH port never get the balancer banned', async () => {
  await haproxy.waitForStates('pysftpproxy', { sftp1: 'UP' });
  // Twice the threshold's worth of checks, each a connection that never logged in.
  const checks = (): number => proxy.logs().filter((l) => l.msg === 'connection closed before SSH identification (not an SSH client?)'
    && l['remote'] === l['via']).length;
  await proxy.waitForLog(() => checks() >= 6, 10_000);
  assert.deepEqual(proxy.logs().filter((l) => String(l.msg).startsWith('address banned')), [], 'nothing banned');
  assert.equal((await haproxy.serverStates('pysftpproxy'))['sftp1'], 'UP');
  const r = await loginWithPrefix(front, { localAddress: '127.0.0.5', user: setup.name, privateKey: readFileSync(setup.key.privatePath) });
  assert.equal(r.ok, true, r.error);
});

test('a client behind the balancer is still scored and banned by its own address', async () => {
  for (let i = 0; i < 3; i++) assert.equal(await probe(front, '127.0.0.7'), 'admitted', `connection ${i + 1}`);
  await proxy.waitForLog((l) => String(l.msg).startsWith('address banned') && l['ip'] === '127.0.0.7');
  assert.equal(await probe(front, '127.0.0.7'), 'closed', 'banned through the balancer');
  assert.equal((await haproxy.serverStates('pysftpproxy'))['sftp1'], 'UP');
  assert.equal(await probe(front, '127.0.0.8'), 'admitted', 'another client behind the same balancer');
});
