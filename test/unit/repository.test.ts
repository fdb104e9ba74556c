import assert from 'node:assert/strict';
import path from 'node:path';
import { CellSkip, UserError } from '../../harness/errors.js';
import { repositoryKey, repositoryUrl, verifySignature } from '../../harness/kernels/repository.js';

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
