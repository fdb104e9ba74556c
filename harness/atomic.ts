// Result files are replaced whole: written beside the target, then renamed over
// it, so a reader (or a run killed mid-write) never sees half a file.
import { rename, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}
