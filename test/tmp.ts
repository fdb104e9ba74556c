// Temporary directories of a test process, removed when it exits (however its
// tests end): mutation testing runs the unit tests thousands of times, and
// each run's directories would otherwise stay in /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A new directory under the system's temporary directory, gone when the process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
