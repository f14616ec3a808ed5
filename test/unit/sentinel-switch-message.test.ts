// The +switch-master announcement as sentinels publish it: only our group's, with a sane port, moves us.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { switchedTo } from '../../src/redis/sentinel-switch-watch.js';

test('+switch-master: the new address of our group only', () => {
  assert.equal(switchedTo('pysftpproxy 10.0.0.21 6379 10.0.0.22 6380', 'pysftpproxy'), '10.0.0.22:6380');
  assert.equal(switchedTo('other 10.0.0.21 6379 10.0.0.22 6380', 'pysftpproxy'), undefined);
  assert.equal(switchedTo('pysftpproxy 10.0.0.21 6379 10.0.0.22', 'pysftpproxy'), undefined);
  assert.equal(switchedTo('pysftpproxy 10.0.0.21 6379 10.0.0.22 port', 'pysftpproxy'), undefined);
  assert.equal(switchedTo('', 'pysftpproxy'), undefined);
});
