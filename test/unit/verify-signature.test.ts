// Signature checks on real keys and signatures. PuTTY (psftp, FileZilla) drops the leading zero
// bytes of an RSA signature, about once in 256 logins: such a signature must still verify, as
// it does with OpenSSH's sshd; a wrong one must not.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { test } from 'node:test';
import ssh2, { type ParsedKey, type PublicKeyAuthContext } from 'ssh2';
import { signatureProblem } from '../../src/server/verify-signature.js';

const pair = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 });
const parsed = ssh2.utils.parseKey(pair.private) as ParsedKey;
const privateKey = createPrivateKey(parsed.getPrivatePEM());
const publicBlob = parsed.getPublicSSH();

function request(blob: Buffer, signature: Buffer): PublicKeyAuthContext {
  return { key: { algo: 'ssh-rsa', data: publicBlob }, hashAlgo: 'sha256', signature, blob } as unknown as PublicKeyAuthContext;
}

test('an rsa-sha2-256 signature with its leading zero byte dropped verifies; a wrong one does not', () => {
  let blob = randomBytes(64);
  let signature = sign('sha256', blob, privateKey);
  for (let i = 0; signature[0] !== 0; i++) {
    assert.ok(i < 20_000, 'no signature with a leading zero byte in 20,000 tries');
    blob = randomBytes(64);
    signature = sign('sha256', blob, privateKey);
  }
  assert.equal(signatureProblem(request(blob, signature)), null, 'the full-length signature');
  let stripped = signature;
  while (stripped[0] === 0) stripped = stripped.subarray(1);
  assert.equal(signatureProblem(request(blob, stripped)), null, 'the same signature as PuTTY sends it');
  const wrong = Buffer.from(stripped);
  wrong[wrong.length - 1]! ^= 1;
  assert.equal(signatureProblem(request(blob, wrong)), 'bad signature');
  assert.equal(signatureProblem(request(randomBytes(64), stripped)), 'bad signature', 'another message');
});
