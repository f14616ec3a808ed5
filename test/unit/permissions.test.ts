// The permission words operators write in a user's `permissions` field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_PERMISSIONS, formatPermissions, mayWriteAnything, parsePermissions, type Permissions } from '../../src/policy/permissions.js';

/** The parsed set; the text must be valid. */
function of(text: string | undefined): Permissions {
  const p = parsePermissions(text);
  assert.ok(p.ok, JSON.stringify(p));
  return p.permissions;
}

const words = (text: string): string[] => [...of(text)].sort();

test('unset, blank and * mean everything', () => {
  for (const t of [undefined, '', '  ', '*', 'list,*']) assert.equal(formatPermissions(of(t)), '*', String(t));
});

test('read-only is list and download; words combine, case and spaces do not matter', () => {
  assert.deepEqual(words('read-only'), ['download', 'list']);
  assert.deepEqual(words(' Upload , MKDIR,upload'), ['mkdir', 'upload']);
  assert.deepEqual(words('read-only,upload'), ['download', 'list', 'upload']);
  assert.equal(formatPermissions(of('upload,list')), 'list,upload');
});

test('an unknown word is an error naming it', () => {
  const p = parsePermissions('list,dowload');
  assert.equal(p.ok, false);
  assert.equal(!p.ok && p.word, 'dowload');
  assert.match(!p.ok ? p.problem : '', /unknown permission/);
  assert.equal(parsePermissions('x'.repeat(600)).ok, false);
});

test('mayWriteAnything: false only for list/download subsets', () => {
  assert.equal(mayWriteAnything(of('read-only')), false);
  assert.equal(mayWriteAnything(of('list')), false);
  assert.equal(mayWriteAnything(of('list,chmod')), true);
  assert.equal(mayWriteAnything(ALL_PERMISSIONS), true);
});
