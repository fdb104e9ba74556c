import { execa } from 'execa';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CellSkip, UserError } from '../../harness/errors.js';
import { repositoryKey, repositoryUrl, verifySignature } from '../../harness/kernels/repository.js';
import { tempDir } from '../tmp.js';

describe('vendor repositories: URL and key named by environment variables', () => {
  it('a key given as ${VAR} is the keyring file the variable names, also once resolved against the matrix directory', () => {
    const env = { KMATRIX_KEY_UBUNTU: 'keys/ubuntu.gpg' };
    assert.equal(repositoryKey('${KMATRIX_KEY_UBUNTU}', env), path.resolve('keys/ubuntu.gpg'));
    assert.equal(repositoryKey('/work/m/${KMATRIX_KEY_UBUNTU}', { KMATRIX_KEY_UBUNTU: '/usr/share/keyrings/u.gpg' }), '/usr/share/keyrings/u.gpg');
    // a plain path or an armored key is left as it is
    assert.equal(repositoryKey('/work/m/keys/u.gpg', env), '/work/m/keys/u.gpg');
    const armored = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n${X}';
    assert.equal(repositoryKey(armored, env), armored);
  });

  it('unset or empty: a skip naming the variable, as for the URL', () => {
    for (const env of [{}, { KMATRIX_KEY_UBUNTU: '' }])
      assert.throws(() => repositoryKey('/m/${KMATRIX_KEY_UBUNTU}', env), (e: unknown) => e instanceof CellSkip && /^the repository's signing key: \$\{KMATRIX_KEY_UBUNTU\} is not set/.test(e.message));
    assert.throws(() => repositoryUrl('${KMATRIX_REPO_UBUNTU}', "Ubuntu's main archive", {}), (e: unknown) => e instanceof CellSkip && /\$\{KMATRIX_REPO_UBUNTU\} is not set/.test(e.message));
  });

  it('verifySignature reads the file the variable names (a missing one is named), or skips when it is unset', async () => {
    const saved = process.env.KMATRIX_TEST_KEY;
    try {
      delete process.env.KMATRIX_TEST_KEY;
      await assert.rejects(verifySignature({ key: '/m/${KMATRIX_TEST_KEY}', data: Buffer.from('x'), what: 'r' }), (e: unknown) => e instanceof CellSkip && /KMATRIX_TEST_KEY/.test(e.message));
      process.env.KMATRIX_TEST_KEY = '/nonexistent/ubuntu.gpg';
      await assert.rejects(verifySignature({ key: '/m/${KMATRIX_TEST_KEY}', data: Buffer.from('x'), what: 'r' }), (e: unknown) => e instanceof UserError && /the repository key \/nonexistent\/ubuntu\.gpg does not exist/.test(e.message));
    } finally {
      if (saved === undefined) delete process.env.KMATRIX_TEST_KEY;
      else process.env.KMATRIX_TEST_KEY = saved;
    }
  });
});

describe('vendor repositories: signatures checked with gpgv', () => {
  // A key whose binary form ends in a newline byte (1 key in 256): execa's
  // default strips a final newline from output, buffers too, and the
  // dearmored keyring then lost its last byte ("Invalid packet").
  const KEYS = path.resolve('test/fixtures/keys');
  const signed = async () => {
    const home = tempDir('km-sig-');
    const gpg = (args: string[], input?: Buffer) => execa('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { ...(input ? { input } : {}), encoding: 'buffer', stripFinalNewline: false });
    await gpg(['--import', path.join(KEYS, 'ends-in-newline.secret.asc')]);
    const data = Buffer.from('Suite: kmatrix-test\n');
    const detached = Buffer.from((await gpg(['--detach-sign', '-o', '-'], data)).stdout);
    const clear = Buffer.from((await gpg(['--clearsign', '-o', '-'], data)).stdout);
    await execa('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { reject: false });
    return { data, detached, clear };
  };

  it('an armored key whose binary form ends in a newline byte verifies (file and inline; detached and clearsigned)', async function () {
    this.timeout(20_000);
    const file = path.join(KEYS, 'ends-in-newline.asc');
    const binary = (await execa('gpg', ['--batch', '--dearmor'], { inputFile: file, encoding: 'buffer', stripFinalNewline: false })).stdout;
    assert.equal(binary[binary.length - 1], 0x0a, 'the fixture key still ends in a newline byte');
    const s = await signed();
    for (const key of [file, readFileSync(file, 'utf8')]) {
      assert.deepEqual(await verifySignature({ key, data: s.data, signature: s.detached, what: 'r' }), s.data);
      assert.deepEqual(await verifySignature({ key, data: s.clear, what: 'r' }), s.data);
    }
  });
});
