// Whole-file writes: two writers of one file in one process (two cells of a
// run resolving the same kernel) must both succeed, and a reader sees one
// whole version, never a half.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../harness/atomic.js';

describe('atomic writes', () => {
  it('two writes of the same file at once, in one process: both succeed, one whole version stays, no temporary file is left', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'km-atomic-'));
    try {
      const file = path.join(dir, 'resolved.json');
      const a = 'a'.repeat(1 << 20);
      const b = 'b'.repeat(1 << 20);
      await Promise.all([writeFileAtomic(file, a), writeFileAtomic(file, b), writeFileAtomic(file, a)]);
      assert.ok([a, b].includes(await readFile(file, 'utf8')));
      assert.deepEqual(await readdir(dir), ['resolved.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
